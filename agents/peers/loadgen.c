/*
 * socklab load generator: many byte-plus-one exchanges from one process, results as one JSON object.
 *
 * Each thread runs its own epoll loop over non-blocking sockets; one exchange is
 * connect, send one byte, receive the answer (checked: byte + 1 mod 256), close.
 *
 *   --mode closed  --threads T --concurrency C --seconds S [--warmup W]
 *       T x C exchanges in flight, each restarted as soon as it ends: the highest rate (conn/s).
 *   --mode open    --rate R --seconds S [--threads T]
 *       a new exchange every 1/R s whatever happens to the others (open loop); latency counts from the
 *       moment an exchange was due, not from when it started, so a slow server cannot hide its stalls
 *       by slowing the loader down (no coordinated omission). --tick S starts them in batches instead,
 *       every exchange due within a tick at its end (as tcpkali does, one batch per millisecond).
 *   --mode hold    --clients N [--threads T]
 *       open N connections at once, each sends its byte and waits for its answer: reports every
 *       client's connect-to-answer time and whether all were answered.
 *
 * Common: --server ADDR (IPv4 address) --port P --char C|0xHH --timeout S (per exchange)
 *         --start-at EPOCH (wall clock: loaders in several containers start together) --samples
 *         (print every latency in ms, for merging several loaders' results).
 * Exit codes: 0 ran (the JSON says what happened), 2 bad arguments, 1 system error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { CLOSED, OPEN, HOLD };
enum state { FREE = 0, CONNECTING, WAITING };
enum err { E_REFUSED, E_RESET, E_TIMEOUT, E_CLOSED, E_WRONG, E_NO_PORT, E_NO_FD, E_OTHER, E_COUNT };
static const char *err_names[E_COUNT] = { "refused", "reset", "timeout", "closed_without_answer",
                                          "wrong_answer", "no_port", "no_descriptor", "other" };

static struct {
    enum mode mode;
    struct sockaddr_in server;
    int threads, concurrency;
    long clients;
    double rate, seconds, warmup, timeout, start_at, tick;
    unsigned char ch;
    int samples;
} opt = { .mode = CLOSED, .threads = 1, .concurrency = 16, .clients = 1000, .rate = 1000, .seconds = 3,
          .warmup = 0.5, .timeout = 10, .ch = 'A' };

struct slot {
    double due;     /* when the exchange was due (open loop) or started */
    double started; /* connect() called */
    uint8_t state;
    uint8_t owner;
};

static struct slot *slots;
static size_t nslots;
static double t_start, t_window_start, t_window_end; /* monotonic */

struct ctx {
    pthread_t tid;
    int id, ep;
    long live, to_start;
    uint64_t ok, answered, started, err[E_COUNT];
    float *lat;
    size_t nlat, caplat;
    double last_answer;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void record(struct ctx *c, double seconds)
{
    if (c->nlat == c->caplat) {
        c->caplat = c->caplat ? c->caplat * 2 : 1 << 14;
        c->lat = realloc(c->lat, c->caplat * sizeof *c->lat);
        if (c->lat == NULL) {
            fprintf(stderr, "loadgen: out of memory\n");
            exit(1);
        }
    }
    c->lat[c->nlat++] = (float)seconds;
}

static int classify(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return E_REFUSED;
    case ECONNRESET:
    case EPIPE:
        return E_RESET;
    case ETIMEDOUT:
        return E_TIMEOUT;
    case EADDRNOTAVAIL:
        return E_NO_PORT;
    case EMFILE:
    case ENFILE:
        return E_NO_FD;
    default:
        return E_OTHER;
    }
}

static void finish(struct ctx *c, int fd)
{
    slots[fd].state = FREE;
    close(fd);
    c->live--;
}

static void fail(struct ctx *c, int fd, int kind)
{
    c->err[kind]++;
    finish(c, fd);
}

static void start_one(struct ctx *c, double due)
{
    double now = mono();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->started++;
    if (fd < 0) {
        c->err[classify(errno)]++;
        return;
    }
    if ((size_t)fd >= nslots) {
        close(fd);
        c->err[E_NO_FD]++;
        return;
    }
    struct slot *s = &slots[fd];
    s->due = due > 0 ? due : now;
    s->started = now;
    s->owner = (uint8_t)c->id;
    if (connect(fd, (struct sockaddr *)&opt.server, sizeof opt.server) < 0 && errno != EINPROGRESS) {
        c->err[classify(errno)]++;
        close(fd);
        return;
    }
    s->state = CONNECTING;
    c->live++;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd };
    epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_event(struct ctx *c, int fd, uint32_t events, double now)
{
    struct slot *s = &slots[fd];
    if (s->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            fail(c, fd, classify(err));
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        if (send(fd, &opt.ch, 1, MSG_NOSIGNAL) != 1) {
            fail(c, fd, classify(errno));
            return;
        }
        s->state = WAITING;
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            return;
    }
    if (s->state != WAITING || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        return;
    unsigned char got;
    ssize_t r = recv(fd, &got, 1, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r == 0) {
        fail(c, fd, E_CLOSED);
        return;
    }
    if (r < 0) {
        fail(c, fd, classify(errno));
        return;
    }
    if (got != (unsigned char)(opt.ch + 1u)) {
        fail(c, fd, E_WRONG);
        return;
    }
    c->answered++; /* in the window or not: what the server did while its CPU time was read */
    double from = opt.mode == OPEN ? s->due : s->started;
    if (opt.mode != CLOSED || (now >= t_window_start && now <= t_window_end)) {
        c->ok++;
        record(c, now - from);
    }
    c->last_answer = now;
    finish(c, fd);
}

static void expire(struct ctx *c, double now)
{
    for (size_t fd = 0; fd < nslots; fd++)
        if (slots[fd].state != FREE && slots[fd].owner == c->id && now - slots[fd].started > opt.timeout)
            fail(c, (int)fd, E_TIMEOUT);
}

/* When exchange k of the open loop is due: k / rate after the start, or, with --tick, at the end of the
   tick it falls in (a batch per tick, the way a loader with a timer tick such as tcpkali starts them). */
static double due_at(long k)
{
    double offset = k / opt.rate;
    if (opt.tick > 0)
        offset = ceil(offset / opt.tick - 1e-9) * opt.tick;
    return t_start + offset;
}

static void *run(void *arg)
{
    struct ctx *c = arg;
    struct epoll_event events[1024];
    double next_expire = t_start + 0.1;
    /* Open loop: exchange k (of rate x seconds, counted, not summed in floating point) is due at
       t_start + k / rate; thread i takes k = i, i + T, i + 2T, ... */
    long total_due = opt.mode == OPEN ? llround(opt.rate * opt.seconds) : 0;
    long k = c->id;
    double next_due = due_at(k);
    if (opt.mode == CLOSED)
        for (int i = 0; i < opt.concurrency; i++)
            start_one(c, 0);
    for (;;) {
        double now = mono();
        int accepting = now < t_window_end;
        if (opt.mode == HOLD) {
            /* Open in chunks so that answers to the first ones are read while the rest connect. */
            for (int i = 0; i < 256 && c->to_start > 0; i++, c->to_start--)
                start_one(c, 0);
        } else if (opt.mode == OPEN) {
            /* Every exchange due inside the window starts, late or not: skipping the ones a busy
               loader woke up too late for would hide exactly the stalls the open loop is there to see. */
            while (k < total_due && next_due <= now) {
                start_one(c, next_due);
                k += opt.threads;
                next_due = due_at(k);
            }
        }
        int more_due = opt.mode == OPEN && k < total_due;
        if (c->live == 0 && !more_due && (opt.mode == HOLD ? c->to_start == 0 : !accepting))
            break;
        if (opt.mode != HOLD && !accepting && now > t_window_end + opt.timeout)
            break;
        int wait_ms = 100;
        if (opt.mode == HOLD && c->to_start > 0)
            wait_ms = 0;
        else if (more_due)
            wait_ms = next_due <= now ? 0 : (int)ceil((next_due - now) * 1000);
        int n = epoll_wait(c->ep, events, 1024, wait_ms);
        now = mono();
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            on_event(c, fd, events[i].events, now);
            if (opt.mode == CLOSED && slots[fd].state == FREE && now < t_window_end)
                start_one(c, 0);
        }
        if (now >= next_expire) {
            expire(c, now);
            next_expire = now + 0.1;
        }
    }
    return NULL;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double pct(const float *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

/* JSON has no NaN: an undefined figure (no samples) is null. */
static void jnum(const char *key, double v, const char *sep)
{
    if (isnan(v))
        printf("\"%s\": null%s", key, sep);
    else
        printf("\"%s\": %.6f%s", key, v, sep);
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --server ADDR [--port P] [--mode closed|open|hold] [--threads T]\n"
                    "  [--concurrency C] [--seconds S] [--warmup W] [--rate R] [--clients N]\n"
                    "  [--tick S] [--timeout S] [--char C|0xHH] [--start-at EPOCH] [--samples]\n");
    exit(2);
}

static double num(const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "loadgen: bad number \"%s\" (want %g..%g)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

static void parse(int argc, char **argv)
{
    static struct option longs[] = {
        { "server", 1, 0, 's' },  { "port", 1, 0, 'p' },        { "mode", 1, 0, 'm' },
        { "threads", 1, 0, 't' }, { "concurrency", 1, 0, 'c' }, { "seconds", 1, 0, 'S' },
        { "warmup", 1, 0, 'w' },  { "rate", 1, 0, 'r' },        { "clients", 1, 0, 'n' },
        { "timeout", 1, 0, 'T' }, { "char", 1, 0, 'C' },        { "start-at", 1, 0, 'a' },
        { "samples", 0, 0, 'x' }, { "tick", 1, 0, 'k' },        { 0, 0, 0, 0 },
    };
    const char *server = NULL;
    long port = 9736;
    int o;
    while ((o = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (o) {
        case 's': server = optarg; break;
        case 'p': port = (long)num(optarg, 1, 65535); break;
        case 'm':
            if (strcmp(optarg, "closed") == 0) opt.mode = CLOSED;
            else if (strcmp(optarg, "open") == 0) opt.mode = OPEN;
            else if (strcmp(optarg, "hold") == 0) opt.mode = HOLD;
            else usage();
            break;
        case 't': opt.threads = (int)num(optarg, 1, 64); break;
        case 'c': opt.concurrency = (int)num(optarg, 1, 100000); break;
        case 'S': opt.seconds = num(optarg, 0.01, 3600); break;
        case 'w': opt.warmup = num(optarg, 0, 3600); break;
        case 'r': opt.rate = num(optarg, 0.1, 1e7); break;
        case 'n': opt.clients = (long)num(optarg, 1, 1e7); break;
        case 'T': opt.timeout = num(optarg, 0.01, 3600); break;
        case 'a': opt.start_at = num(optarg, 0, 1e11); break;
        case 'x': opt.samples = 1; break;
        case 'k': opt.tick = num(optarg, 0, 1); break;
        case 'C':
            if (strlen(optarg) == 1) opt.ch = (unsigned char)optarg[0];
            else if (strlen(optarg) == 4 && optarg[0] == '0' && optarg[1] == 'x')
                opt.ch = (unsigned char)strtol(optarg + 2, NULL, 16);
            else usage();
            break;
        default: usage();
        }
    }
    if (server == NULL || optind != argc)
        usage();
    opt.server.sin_family = AF_INET;
    opt.server.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, server, &opt.server.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --server wants an IPv4 address, got \"%s\"\n", server);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    nslots = rl.rlim_cur;
    slots = calloc(nslots, sizeof *slots);
    struct ctx *ctx = calloc((size_t)opt.threads, sizeof *ctx);
    if (slots == NULL || ctx == NULL)
        return 1;

    fprintf(stderr, "loadgen ready\n");
    if (opt.start_at > 0) {
        struct timespec at = { (time_t)opt.start_at, (long)((opt.start_at - floor(opt.start_at)) * 1e9) };
        while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR) {
        }
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    t_start = mono();
    double warm = opt.mode == CLOSED ? opt.warmup : 0;
    t_window_start = t_start + warm;
    t_window_end = opt.mode == HOLD ? INFINITY : t_window_start + opt.seconds;
    for (int i = 0; i < opt.threads; i++) {
        ctx[i].id = i;
        ctx[i].ep = epoll_create1(EPOLL_CLOEXEC);
        ctx[i].to_start = opt.clients / opt.threads + (i < opt.clients % opt.threads);
        pthread_create(&ctx[i].tid, NULL, run, &ctx[i]);
    }
    uint64_t ok = 0, answered = 0, started = 0, err[E_COUNT] = { 0 };
    size_t n = 0;
    double last = t_start;
    for (int i = 0; i < opt.threads; i++) {
        pthread_join(ctx[i].tid, NULL);
        ok += ctx[i].ok;
        answered += ctx[i].answered;
        started += ctx[i].started;
        n += ctx[i].nlat;
        for (int k = 0; k < E_COUNT; k++)
            err[k] += ctx[i].err[k];
        if (ctx[i].last_answer > last)
            last = ctx[i].last_answer;
    }
    float *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < opt.threads; i++) {
        memcpy(all + k, ctx[i].lat, ctx[i].nlat * sizeof *all);
        k += ctx[i].nlat;
    }
    qsort(all, n, sizeof *all, cmp_float);
    uint64_t failed = 0;
    for (int e = 0; e < E_COUNT; e++)
        failed += err[e];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    static const char *modes[] = { "closed", "open", "hold" };
    printf("{\"mode\": \"%s\", \"threads\": %d, \"concurrency\": %d, \"rate\": %g, \"clients\": %ld, "
           "\"seconds\": %g, \"started_at\": %.6f, \"started\": %llu, \"ok\": %llu, \"answered\": %llu, "
           "\"failed\": %llu, ",
           modes[opt.mode], opt.threads, opt.concurrency, opt.mode == OPEN ? opt.rate : 0,
           opt.mode == HOLD ? opt.clients : 0, opt.mode == HOLD ? last - t_start : opt.seconds,
           (double)wall.tv_sec + wall.tv_nsec / 1e9, (unsigned long long)started, (unsigned long long)ok,
           (unsigned long long)answered,
           (unsigned long long)failed);
    printf("\"errors\": {");
    for (int e = 0; e < E_COUNT; e++)
        printf("%s\"%s\": %llu", e ? ", " : "", err_names[e], (unsigned long long)err[e]);
    printf("}, ");
    jnum("per_second", opt.mode == HOLD ? NAN : ok / opt.seconds, ", ");
    jnum("cpu_seconds", cpu, ", ");
    printf("\"latency_s\": {");
    jnum("min", n ? all[0] : NAN, ", ");
    jnum("p50", pct(all, n, 50), ", ");
    jnum("p90", pct(all, n, 90), ", ");
    jnum("p99", pct(all, n, 99), ", ");
    jnum("p999", pct(all, n, 99.9), ", ");
    jnum("max", n ? all[n - 1] : NAN, "}");
    if (opt.samples) {
        printf(", \"samples_ms\": [");
        for (size_t i = 0; i < n; i++)
            printf("%s%.1f", i ? "," : "", all[i] * 1000.0);
        printf("]");
    }
    printf("}\n");
    return 0;
}
