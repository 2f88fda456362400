/*
 * socklab reference server: the practical limit of the byte-plus-one protocol.
 *
 * One epoll loop per process, no thread or process per connection:
 *   - the listener is level-triggered and drained in batches of non-blocking accept4()s;
 *   - a connection is edge-triggered: its one byte arrives, it moves to a timer FIFO;
 *   - every delay is the same, so deadlines are already in order: a FIFO (ring) is the whole timer
 *     wheel, O(1) per connection; the idle timeout (also equal for all) is a second FIFO;
 *   - per-connection state is a small array slot indexed by the descriptor: no allocation.
 *
 * Environment (the same contract as every socklab server):
 *   SOCKLAB_PORT          TCP port, 0 picks a free one              (default 9736)
 *   SOCKLAB_BACKLOG       listen(2) backlog                         (default 5)
 *   SOCKLAB_DELAY         seconds before answering, fractions ok    (default 5)
 *   SOCKLAB_IDLE_TIMEOUT  close a peer that sends nothing this long (default 30)
 *   SOCKLAB_GRACE         on SIGTERM, how long answers may take     (default 10)
 *   SOCKLAB_LOG           connections | summary | off               (default connections)
 *   SOCKLAB_WORKERS       processes sharing the port (SO_REUSEPORT) (default 1)
 *   SOCKLAB_WAIT_FOR_TRACER  before socket(), wait this long for a tracer (strace) to attach (default 0)
 *
 * Log lines are socklab's ("accepted ADDR", "served ADDR: 'A' (0x41) -> 'B' (0x42) in 5.002 s");
 * "summary" prints one line a second: accepted, served, in flight, errors (totals so far); "off"
 * keeps only the start and stop lines.
 * Exit codes: 0 stopped with every accepted connection answered, 1 the grace period ended with
 * connections in flight (or a system error), 2 bad configuration, 3 cannot listen.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracer.h"

#define VERSION "0.1.0"
#define ACCEPT_BATCH 1024 /* accepts per listener wake-up: timers and reads get their turn */
#define MAX_EVENTS 1024
#define MAX_WORKERS 64

enum log_mode { LOG_CONNECTIONS, LOG_SUMMARY, LOG_OFF };
enum state { FREE = 0, READING, WAITING };

struct config {
    long port, backlog, workers;
    double delay, idle_timeout, grace;
    enum log_mode log;
};

/* One slot per worker in shared memory: each worker writes only its own, the summary sums them. */
struct counters {
    volatile uint64_t accepted, served, errors;
    char pad[40];
};

struct conn {
    uint32_t gen; /* bumped on close: a FIFO entry with an old generation is stale */
    uint8_t state, byte;
    double t0;
    struct sockaddr_in peer;
};

struct timer {
    int fd;
    uint32_t gen;
    double due;
};

struct fifo {
    struct timer *ring;
    size_t cap, head, len;
};

static struct config cfg;
static struct counters *counters; /* [workers] */
static struct conn *conns;
static size_t nconns;
static double now_mono;
static char stamp[16];

/* --- small helpers ------------------------------------------------------------------------------ */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The wall-clock stamp "HH:MM:SS.mmm", computed once per loop turn (not per line). */
static void refresh_stamp(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm); /* UTC, as the Python servers stamp their lines */
    snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000));
}

/* Lines go to a large stdio buffer flushed once per loop turn: one write(2) per batch, not per line. */
static void say(const char *fmt, ...)
{
    va_list ap;
    printf("%s ", stamp);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void die_config(const char *name, const char *value, const char *want)
{
    fprintf(stderr, "server: bad %s=\"%s\": want %s\n", name, value, want);
    exit(2);
}

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        char want[64];
        snprintf(want, sizeof want, "an integer in %ld..%ld", lo, hi);
        die_config(name, s, want);
    }
    return v;
}

static double env_seconds(const char *name, double def)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 || v > 86400)
        die_config(name, s, "seconds in 0..86400 (fractions allowed)");
    return v;
}

static enum log_mode env_log(void)
{
    const char *s = getenv("SOCKLAB_LOG");
    if (s == NULL || *s == '\0' || strcmp(s, "connections") == 0)
        return LOG_CONNECTIONS;
    if (strcmp(s, "summary") == 0)
        return LOG_SUMMARY;
    if (strcmp(s, "off") == 0)
        return LOG_OFF;
    die_config("SOCKLAB_LOG", s, "connections, summary or off");
    return LOG_OFF;
}


/* Before socket(): wait up to `seconds` until a tracer is attached, so that it sees socket, bind, listen. */
static void wait_for_tracer(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec start, pause = { 0, 5000000 }, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long pid;
    while ((pid = tracer_pid()) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
            break;
        nanosleep(&pause, NULL);
    }
    refresh_stamp();
    if (pid > 0)
        say("tracer attached (pid %ld)", pid);
    else
        say("no tracer attached within %g s: going on", seconds);
    fflush(stdout);
}

/* 'A' (0x41), or 0x00 when it is not printable: the Python server's describe(). */
static const char *describe(unsigned b, char *out, size_t n)
{
    if (b >= 0x20 && b < 0x7f && b != '\'' && b != '\\')
        snprintf(out, n, "'%c' (0x%02x)", b, b);
    else if (b == '\'')
        snprintf(out, n, "\"'\" (0x%02x)", b);
    else if (b == '\\')
        snprintf(out, n, "'\\\\' (0x%02x)", b);
    else
        snprintf(out, n, "0x%02x", b);
    return out;
}

/* --- timer FIFOs -------------------------------------------------------------------------------- */

static void fifo_push(struct fifo *q, int fd, uint32_t gen, double due)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 4096;
        struct timer *ring = malloc(cap * sizeof *ring);
        if (ring == NULL) {
            fprintf(stderr, "server: out of memory for timers\n");
            exit(1);
        }
        for (size_t i = 0; i < q->len; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->len) % q->cap] = (struct timer){ fd, gen, due };
    q->len++;
}

static struct timer *fifo_head(struct fifo *q)
{
    return q->len ? &q->ring[q->head] : NULL;
}

static void fifo_pop(struct fifo *q)
{
    q->head = (q->head + 1) % q->cap;
    q->len--;
}

/* --- one worker --------------------------------------------------------------------------------- */

struct worker {
    int ep, lfd, sfd;
    struct counters *count;
    struct fifo answers, idle;
    long live;
    int stopping;
    double grace_deadline, accept_paused_until, next_summary;
};

static void print_summary(void)
{
    uint64_t a = 0, s = 0, e = 0;
    for (long i = 0; i < cfg.workers; i++) {
        a += counters[i].accepted;
        s += counters[i].served;
        e += counters[i].errors;
    }
    say("summary: accepted %llu, served %llu, in flight %llu, errors %llu", (unsigned long long)a,
        (unsigned long long)s, (unsigned long long)(a - s - e), (unsigned long long)e);
}

static void close_conn(struct worker *w, int fd)
{
    conns[fd].state = FREE;
    conns[fd].gen++;
    close(fd); /* also removes it from the epoll set */
    w->live--;
}

static void lost(struct worker *w, int fd, const char *what)
{
    if (cfg.log == LOG_CONNECTIONS) {
        struct conn *c = &conns[fd];
        say("%s %s:%u", what, inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port));
    }
    w->count->errors++;
    close_conn(w, fd);
}

static void answer(struct worker *w, int fd)
{
    struct conn *c = &conns[fd];
    unsigned char reply = (unsigned char)(c->byte + 1u);
    if (send(fd, &reply, 1, MSG_NOSIGNAL) != 1) {
        lost(w, fd, "lost (gone before the answer)");
        return;
    }
    if (cfg.log == LOG_CONNECTIONS) {
        char req[24], rep[24];
        say("served %s:%u: %s -> %s in %.3f s", inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port),
            describe(c->byte, req, sizeof req), describe(reply, rep, sizeof rep), now_mono - c->t0);
    }
    w->count->served++;
    close_conn(w, fd);
}

static void accept_batch(struct worker *w)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept4(w->lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop listening for 100 ms instead of spinning on a full queue. */
                say("error accept failed: %s", strerror(errno));
                struct epoll_event ev = { .events = 0, .data.fd = w->lfd };
                epoll_ctl(w->ep, EPOLL_CTL_MOD, w->lfd, &ev);
                w->accept_paused_until = now_mono + 0.1;
            }
            return; /* EAGAIN: the queue is empty; ECONNABORTED & co: the peer gave up */
        }
        if ((size_t)fd >= nconns) {
            close(fd);
            continue;
        }
        struct conn *c = &conns[fd];
        c->state = READING;
        c->t0 = now_mono;
        c->peer = peer;
        w->live++;
        w->count->accepted++;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd };
        epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
        fifo_push(&w->idle, fd, c->gen, now_mono + cfg.idle_timeout);
        if (cfg.log == LOG_CONNECTIONS)
            say("accepted %s:%u", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
    }
}

static void readable(struct worker *w, int fd)
{
    struct conn *c = &conns[fd];
    if (c->state != READING)
        return; /* a FIN while waiting for the timer: the answer will find out */
    unsigned char b;
    ssize_t r = recv(fd, &b, 1, 0);
    if (r == 1) {
        c->byte = b;
        c->state = WAITING;
        if (cfg.delay == 0)
            answer(w, fd);
        else
            fifo_push(&w->answers, fd, c->gen, now_mono + cfg.delay);
    } else if (r == 0) {
        lost(w, fd, "empty (closed without sending)");
    } else if (errno != EAGAIN && errno != EINTR) {
        lost(w, fd, "lost (reset)");
    }
}

static void run_timers(struct worker *w)
{
    struct timer *t;
    while ((t = fifo_head(&w->answers)) && t->due <= now_mono) {
        if (conns[t->fd].gen == t->gen && conns[t->fd].state == WAITING)
            answer(w, t->fd);
        fifo_pop(&w->answers);
    }
    while ((t = fifo_head(&w->idle)) && t->due <= now_mono) {
        if (conns[t->fd].gen == t->gen && conns[t->fd].state == READING)
            lost(w, t->fd, "idle (sent nothing, closed)");
        fifo_pop(&w->idle);
    }
}

static int next_timeout_ms(struct worker *w)
{
    double due = INFINITY;
    struct timer *t;
    /* Skip stale heads so that an answered connection's idle entry does not wake us for nothing. */
    while ((t = fifo_head(&w->idle)) && !(conns[t->fd].gen == t->gen && conns[t->fd].state == READING))
        fifo_pop(&w->idle);
    if ((t = fifo_head(&w->answers)))
        due = t->due;
    if ((t = fifo_head(&w->idle)) && t->due < due)
        due = t->due;
    if (w->accept_paused_until > 0 && w->accept_paused_until < due)
        due = w->accept_paused_until;
    if (w->next_summary > 0 && w->next_summary < due)
        due = w->next_summary;
    if (w->stopping && w->grace_deadline < due)
        due = w->grace_deadline;
    if (due == INFINITY)
        return -1;
    double ms = ceil((due - now_mono) * 1000.0);
    return ms < 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms;
}

static int open_listener(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        fprintf(stderr, "server: socket: %s\n", strerror(errno));
        exit(1);
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port) };
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, (int)cfg.backlog) < 0) {
        fprintf(stderr, "server: cannot listen on 0.0.0.0:%ld: %s\n", cfg.port, strerror(errno));
        exit(3);
    }
    /* Port 0 picks a free one; the other workers then bind that same port. */
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    cfg.port = ntohs(addr.sin_port);
    return lfd;
}

/* Stop accepting: take what the kernel already queued (closing would reset it), then close. */
static void begin_drain(struct worker *w)
{
    w->stopping = 1;
    w->grace_deadline = now_mono + cfg.grace;
    if (w->lfd >= 0) {
        accept_batch(w);
        close(w->lfd);
        w->lfd = -1;
    }
}

static int worker_main(int index, int lfd, int print_summaries)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    nconns = rl.rlim_cur;
    conns = calloc(nconns, sizeof *conns);
    if (conns == NULL) {
        fprintf(stderr, "server: out of memory\n");
        return 1;
    }
    struct worker w = { .lfd = lfd, .count = &counters[index] };
    w.ep = epoll_create1(EPOLL_CLOEXEC);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    w.sfd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = w.lfd };
    epoll_ctl(w.ep, EPOLL_CTL_ADD, w.lfd, &ev);
    ev.data.fd = w.sfd;
    epoll_ctl(w.ep, EPOLL_CTL_ADD, w.sfd, &ev);

    now_mono = mono();
    if (print_summaries)
        w.next_summary = now_mono + 1.0;
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(w.ep, events, MAX_EVENTS, next_timeout_ms(&w));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "server: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        now_mono = mono();
        refresh_stamp();
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == w.lfd) {
                accept_batch(&w);
            } else if (fd == w.sfd) {
                struct signalfd_siginfo si;
                while (read(w.sfd, &si, sizeof si) == sizeof si) {
                }
                if (!w.stopping) {
                    if (cfg.workers == 1)
                        say("stopping: no new connections; %ld in flight, grace %g s", w.live, cfg.grace);
                    begin_drain(&w);
                }
            } else {
                readable(&w, fd);
            }
        }
        run_timers(&w);
        if (w.accept_paused_until > 0 && now_mono >= w.accept_paused_until && w.lfd >= 0) {
            struct epoll_event lev = { .events = EPOLLIN, .data.fd = w.lfd };
            epoll_ctl(w.ep, EPOLL_CTL_MOD, w.lfd, &lev);
            w.accept_paused_until = 0;
        }
        if (print_summaries && now_mono >= w.next_summary) {
            print_summary();
            w.next_summary += 1.0;
        }
        fflush(stdout);
        if (w.stopping && (w.live == 0 || now_mono >= w.grace_deadline))
            break;
    }
    int abandoned = (int)w.live;
    if (cfg.workers == 1) {
        if (print_summaries)
            print_summary();
        if (abandoned)
            say("stopped: %d connection(s) did not finish within the grace period", abandoned);
        else
            say("stopped: every accepted connection was answered");
    }
    fflush(stdout);
    return abandoned ? 1 : 0;
}

/* --- several workers: the parent only forwards SIGTERM, reaps, and prints the summary ----------- */

static int supervise(pid_t *pids)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    long running = cfg.workers;
    int status_all = 0, stopping = 0;
    while (running > 0) {
        struct timespec tick = { 1, 0 };
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping) {
                refresh_stamp();
                say("stopping: no new connections; grace %g s", cfg.grace);
                fflush(stdout);
            }
            stopping = 1;
            for (long i = 0; i < cfg.workers; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGTERM);
        }
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (long i = 0; i < cfg.workers; i++)
                if (pids[i] == pid)
                    pids[i] = 0;
            running--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                status_all = 1;
        }
        if (sig < 0 && cfg.log == LOG_SUMMARY) {
            refresh_stamp();
            print_summary();
            fflush(stdout);
        }
    }
    {
        refresh_stamp();
        if (cfg.log == LOG_SUMMARY)
            print_summary();
        say(status_all ? "stopped: some connection(s) did not finish within the grace period"
                       : "stopped: every accepted connection was answered");
        fflush(stdout);
    }
    return status_all;
}

int main(void)
{
    cfg.port = env_long("SOCKLAB_PORT", 9736, 0, 65535);
    cfg.backlog = env_long("SOCKLAB_BACKLOG", 5, 1, 1 << 20);
    cfg.workers = env_long("SOCKLAB_WORKERS", 1, 1, MAX_WORKERS);
    cfg.delay = env_seconds("SOCKLAB_DELAY", 5.0);
    cfg.idle_timeout = env_seconds("SOCKLAB_IDLE_TIMEOUT", 30.0);
    cfg.grace = env_seconds("SOCKLAB_GRACE", 10.0);
    cfg.log = env_log();
    double wait_tracer = env_seconds("SOCKLAB_WAIT_FOR_TRACER", 0.0);
    if (cfg.idle_timeout == 0)
        die_config("SOCKLAB_IDLE_TIMEOUT", "0", "a positive number of seconds");

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    signal(SIGPIPE, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, NULL); /* signals arrive through signalfd/sigtimedwait only */

    /* As many descriptors as the engine allows (dockerd caps the hard limit, e.g. at 20,000). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    counters = mmap(NULL, sizeof *counters * (size_t)cfg.workers, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counters == MAP_FAILED) {
        fprintf(stderr, "server: mmap: %s\n", strerror(errno));
        return 1;
    }

    wait_for_tracer(wait_tracer);
    int first = open_listener(); /* bind errors surface before any worker starts */
    refresh_stamp();
    {
        say("socklab server %s listening on 0.0.0.0:%ld (tcp, model c-epoll, backlog %ld, delay %g s, workers %ld)",
            VERSION, cfg.port, cfg.backlog, cfg.delay, cfg.workers);
        if (cfg.log == LOG_CONNECTIONS)
            say("server waiting for a connection");
        fflush(stdout);
    }
    if (cfg.workers == 1)
        return worker_main(0, first, cfg.log == LOG_SUMMARY);

    pid_t pids[MAX_WORKERS];
    for (long i = 0; i < cfg.workers; i++) {
        int lfd = i == 0 ? first : open_listener(); /* one SO_REUSEPORT listener each */
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "server: fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid == 0)
            _exit(worker_main((int)i, lfd, 0));
        pids[i] = pid;
        close(lfd);
    }
    return supervise(pids);
}
