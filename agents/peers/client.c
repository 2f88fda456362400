/*
 * socklab witness client: connect, send one byte, print the answer.
 *
 * Environment:
 *   SOCKLAB_SERVER            host name or address      (default "server")
 *   SOCKLAB_PORT              TCP port, 1..65535        (default 9736)
 *   SOCKLAB_CHAR              one character, or 0xHH    (default "A")
 *   SOCKLAB_CONNECT_DEADLINE  seconds to keep retrying  (default 30)
 *   SOCKLAB_REPLY_TIMEOUT     seconds to await answer   (default 60)
 *
 * Exit codes: 0 answer == char+1 mod 256, 1 unexpected system error,
 *             2 bad configuration, 3 could not connect before the deadline,
 *             4 timed out waiting for the answer, 5 closed without answer,
 *             6 wrong answer.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum {
    EX_OK = 0,
    EX_SYS = 1,
    EX_CONFIG = 2,
    EX_CONNECT = 3,
    EX_TIMEOUT = 4,
    EX_CLOSED = 5,
    EX_WRONG = 6
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double d)
{
    if (d <= 0)
        return;
    struct timespec req, rem;
    req.tv_sec = (time_t)d;
    req.tv_nsec = (long)((d - (double)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

static int ms_until(double deadline)
{
    double left = deadline - now_s();
    if (left <= 0)
        return 0;
    if (left > 2000000.0)
        return 2000000000;
    return (int)ceil(left * 1000.0);
}

static const char *env_str(const char *name, const char *def)
{
    const char *s = getenv(name);
    return (s == NULL || *s == '\0') ? def : s;
}

static long env_port(void)
{
    const char *s = env_str("SOCKLAB_PORT", "9736");
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) {
        fprintf(stderr, "client: bad SOCKLAB_PORT=\"%s\": want an integer in 1..65535\n", s);
        exit(EX_CONFIG);
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
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > 86400) {
        fprintf(stderr, "client: bad %s=\"%s\": want seconds in (0, 86400] (fractions allowed)\n",
                name, s);
        exit(EX_CONFIG);
    }
    return v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly one byte, or "0xHH" for any byte value. */
static unsigned char env_char(void)
{
    const char *s = env_str("SOCKLAB_CHAR", "A");
    size_t n = strlen(s);
    if (n == 1)
        return (unsigned char)s[0];
    if (n == 4 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexval(s[2]) >= 0 &&
        hexval(s[3]) >= 0)
        return (unsigned char)(hexval(s[2]) * 16 + hexval(s[3]));
    fprintf(stderr, "client: bad SOCKLAB_CHAR=\"%s\": want exactly one character or 0xHH\n", s);
    exit(EX_CONFIG);
}

/* Is this failure worth another try before the deadline? */
static int transient_connect_error(int e)
{
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == ETIMEDOUT ||
           e == EAGAIN || e == ECONNRESET;
}

/* One non-blocking connect bounded by the deadline.  Returns the fd (blocking
 * again) or -1 with errno set. */
static int connect_until(const struct addrinfo *ai, double deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        for (;;) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT, .revents = 0 };
            int pr = poll(&pfd, 1, ms_until(deadline));
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr <= 0) {
                close(fd);
                errno = pr == 0 ? ETIMEDOUT : errno;
                return -1;
            }
            break;
        }
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            close(fd);
            errno = err;
            return -1;
        }
    }
    fcntl(fd, F_SETFL, fl);
    return fd;
}

int main(void)
{
    const char *host = env_str("SOCKLAB_SERVER", "server");
    long port = env_port();
    unsigned char ch = env_char();
    double connect_deadline_s = env_seconds("SOCKLAB_CONNECT_DEADLINE", 30.0);
    double reply_timeout_s = env_seconds("SOCKLAB_REPLY_TIMEOUT", 60.0);

    signal(SIGPIPE, SIG_IGN);

    char portstr[8];
    snprintf(portstr, sizeof portstr, "%ld", port);

    double deadline = now_s() + connect_deadline_s;
    double backoff = 0.05;
    char why[256] = "no attempt made";
    int fd = -1;

    for (;;) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        int gai = getaddrinfo(host, portstr, &hints, &res);
        if (gai != 0) {
            snprintf(why, sizeof why, "cannot resolve %s: %s", host, gai_strerror(gai));
            if (gai != EAI_NONAME && gai != EAI_AGAIN) {
                fprintf(stderr, "client: %s\n", why);
                return EX_CONNECT;
            }
        } else {
            int fatal = 0;
            for (struct addrinfo *ai = res; ai != NULL && now_s() < deadline; ai = ai->ai_next) {
                fd = connect_until(ai, deadline);
                if (fd >= 0)
                    break;
                snprintf(why, sizeof why, "connect to %s port %s: %s", host, portstr,
                         strerror(errno));
                if (!transient_connect_error(errno))
                    fatal = 1;
            }
            freeaddrinfo(res);
            if (fd >= 0)
                break;
            if (fatal) {
                fprintf(stderr, "client: %s\n", why);
                return EX_CONNECT;
            }
        }
        double left = deadline - now_s();
        if (left <= 0)
            break;
        sleep_seconds(backoff < left ? backoff : left);
        backoff = backoff * 2 > 1.0 ? 1.0 : backoff * 2;
        if (now_s() >= deadline)
            break;
    }
    if (fd < 0) {
        fprintf(stderr, "client: could not connect within %g s (last error: %s)\n",
                connect_deadline_s, why);
        return EX_CONNECT;
    }

    ssize_t w;
    do
        w = send(fd, &ch, 1, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w != 1) {
        fprintf(stderr, "client: connection closed before the byte could be sent: %s\n",
                w < 0 ? strerror(errno) : "short write");
        close(fd);
        return EX_CLOSED;
    }

    double reply_deadline = now_s() + reply_timeout_s;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN, .revents = 0 };
        int pr = poll(&pfd, 1, ms_until(reply_deadline));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            fprintf(stderr, "client: poll: %s\n", strerror(errno));
            close(fd);
            return EX_SYS;
        }
        if (pr == 0) {
            fprintf(stderr, "client: no answer within %g s\n", reply_timeout_s);
            close(fd);
            return EX_TIMEOUT;
        }
        break;
    }

    unsigned char got;
    ssize_t r;
    do
        r = recv(fd, &got, 1, 0);
    while (r < 0 && errno == EINTR);
    close(fd);
    if (r == 0) {
        fprintf(stderr, "client: connection closed without an answer\n");
        return EX_CLOSED;
    }
    if (r < 0) {
        fprintf(stderr, "client: connection closed without an answer: %s\n", strerror(errno));
        return EX_CLOSED;
    }

    printf("char from server = %c\n", got);
    fflush(stdout);

    unsigned char want = (unsigned char)(ch + 1u);
    if (got != want) {
        fprintf(stderr, "client: wrong answer: sent 0x%02x, got 0x%02x, expected 0x%02x\n", ch,
                got, want);
        return EX_WRONG;
    }
    return EX_OK;
}
