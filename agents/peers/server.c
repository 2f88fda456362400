/*
 * socklab witness server: the classic fork-per-connection TCP server.
 *
 * For each connection: read one byte, wait DELAY seconds, write back
 * (byte + 1) mod 256, close.  One child process per connection.
 *
 * Environment:
 *   SOCKLAB_PORT     TCP port, 1..65535           (default 9736)
 *   SOCKLAB_BACKLOG  listen(2) backlog, 1..65535   (default 5)
 *   SOCKLAB_DELAY    seconds, fractions allowed    (default 5)
 *   SOCKLAB_WAIT_FOR_TRACER  seconds to wait before socket() for a tracer
 *                    (strace) to attach, 0 = do not wait (default 0)
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 unexpected system error,
 *             2 bad configuration, 3 cannot bind/listen.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracer.h"

#define DEFAULT_PORT 9736
#define DEFAULT_BACKLOG 5
#define DEFAULT_DELAY 5.0
#define MAX_DELAY 86400.0
#define IDLE_READ_TIMEOUT_S 60 /* a peer that connects and never sends */
#define DRAIN_LIMIT_S 5        /* on SIGTERM, wait this long for children */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* One write(2) per line so lines from concurrent children never interleave. */
static void say(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)(sizeof buf - 2);
    buf[n++] = '\n';
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, (size_t)n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (int)w;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Unset or empty -> default.  Otherwise a decimal integer in [lo, hi]. */
static long env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        say(2, "server: bad %s=\"%s\": want an integer in %ld..%ld", name, s, lo, hi);
        exit(2);
    }
    return v;
}

static double env_seconds(const char *name, double def, double lo, double hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        say(2, "server: bad %s=\"%s\": want seconds in %g..%g (fractions allowed)", name, s, lo, hi);
        exit(2);
    }
    return v;
}

static void sleep_seconds(double d)
{
    struct timespec req, rem;
    req.tv_sec = (time_t)d;
    req.tv_nsec = (long)((d - (double)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    if (req.tv_nsec < 0)
        req.tv_nsec = 0;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}


/* Before socket(): wait up to `seconds` until a tracer is attached, so that it sees socket, bind, listen. */
static void wait_for_tracer(double seconds)
{
    if (seconds <= 0)
        return;
    double deadline = now_s() + seconds;
    for (;;) {
        long pid = tracer_pid();
        if (pid > 0) {
            say(1, "tracer attached (pid %ld)", pid);
            return;
        }
        if (now_s() >= deadline) {
            say(1, "no tracer attached within %g s: going on", seconds);
            return;
        }
        sleep_seconds(0.005);
    }
}

static void serve_one(int conn, const struct sockaddr_in *peer, double delay, double t0)
{
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
    unsigned port = ntohs(peer->sin_port);

    struct timeval tv = { .tv_sec = IDLE_READ_TIMEOUT_S, .tv_usec = 0 };
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    unsigned char c;
    ssize_t r;
    do
        r = recv(conn, &c, 1, 0);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        say(1, "peer %s:%u closed without sending a byte", ip, port);
        close(conn);
        return;
    }
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            say(1, "peer %s:%u sent nothing in %d s, dropping it", ip, port, IDLE_READ_TIMEOUT_S);
        else
            say(1, "peer %s:%u read error: %s", ip, port, strerror(errno));
        close(conn);
        return;
    }

    sleep_seconds(delay);

    unsigned char reply = (unsigned char)(c + 1u);
    ssize_t w;
    do
        w = send(conn, &reply, 1, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w != 1) {
        say(1, "peer %s:%u gone before the answer: %s", ip, port,
            w < 0 ? strerror(errno) : "short write");
        close(conn);
        return;
    }
    close(conn);
    say(1, "served %s:%u 0x%02x -> 0x%02x in %.2f s", ip, port, c, reply, now_s() - t0);
}

int main(void)
{
    long port = env_long("SOCKLAB_PORT", DEFAULT_PORT, 1, 65535);
    long backlog = env_long("SOCKLAB_BACKLOG", DEFAULT_BACKLOG, 1, 65535);
    double delay = env_seconds("SOCKLAB_DELAY", DEFAULT_DELAY, 0.0, MAX_DELAY);
    double wait_tracer = env_seconds("SOCKLAB_WAIT_FOR_TRACER", 0.0, 0.0, MAX_DELAY);

    /* No zombies: the kernel reaps children for us. */
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    /* SIGTERM/SIGINT are blocked except inside pselect(), so a stop request can
     * never slip in between the flag test and the wait.  As PID 1 in a
     * container the default action would be ignored, hence the handler. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);

    wait_for_tracer(wait_tracer);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        say(2, "server: socket: %s", strerror(errno));
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((unsigned short)port);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        say(2, "server: cannot bind 0.0.0.0:%ld: %s", port, strerror(errno));
        return 3;
    }
    if (listen(lfd, (int)backlog) < 0) {
        say(2, "server: cannot listen on 0.0.0.0:%ld: %s", port, strerror(errno));
        return 3;
    }
    /* Non-blocking listener: a connection that vanishes between pselect and
     * accept must not leave us stuck in accept(). Accepted sockets on Linux
     * do not inherit O_NONBLOCK. */
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);

    say(1, "server listening on 0.0.0.0:%ld backlog %ld delay %.3f s, pid %ld",
        port, backlog, delay, (long)getpid());

    while (!stop_requested) {
        say(1, "server waiting");
        int conn = -1;
        struct sockaddr_in peer;
        while (!stop_requested) {
            fd_set rfds;
            FD_ZERO(&rfds);
            FD_SET(lfd, &rfds);
            int pr = pselect(lfd + 1, &rfds, NULL, NULL, NULL, &waitmask);
            if (pr < 0) {
                if (errno == EINTR)
                    continue;
                say(2, "server: pselect: %s", strerror(errno));
                return 1;
            }
            socklen_t plen = sizeof peer;
            conn = accept(lfd, (struct sockaddr *)&peer, &plen);
            if (conn >= 0)
                break;
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ||
                errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                say(2, "server: accept: %s (retrying)", strerror(errno));
                sleep_seconds(0.1);
                continue;
            }
            say(2, "server: accept: %s", strerror(errno));
            return 1;
        }
        if (conn < 0)
            break;

        double t0 = now_s();
        pid_t pid = fork();
        if (pid < 0) {
            say(2, "server: fork: %s (dropping connection)", strerror(errno));
            close(conn);
            continue;
        }
        if (pid == 0) {
            close(lfd);
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            sigprocmask(SIG_UNBLOCK, &block, NULL);
            serve_one(conn, &peer, delay, t0);
            _exit(0);
        }
        close(conn);
    }

    close(lfd);
    say(1, "server stopping: no longer accepting, waiting up to %d s for children", DRAIN_LIMIT_S);
    /* With SIGCHLD ignored, waitpid blocks until every child is gone and then
     * fails with ECHILD; SIGALRM (no SA_RESTART) bounds the wait. */
    alarm(DRAIN_LIMIT_S);
    int left = 0;
    for (;;) {
        if (waitpid(-1, NULL, 0) >= 0)
            continue;
        if (errno == EINTR)
            left = 1; /* alarm fired: children still running */
        break;        /* ECHILD: all children are gone */
    }
    alarm(0);
    say(1, left ? "server stopped (children still running were abandoned)" : "server stopped");
    return 0;
}
