/* make bench: the kernel's floor for a hub's fan-out. One thread writes one WebSocket text frame to
 * each of N loopback TCP subscribers in turn (send, no Python, no framing), `rounds` sweeps `gap_us`
 * apart; prints the sweeps' times in ms, one per line. The subscribers (a child process) never
 * read: the frames stay in their receive queues, as when a hub writes faster than they read.
 *
 * usage: send_floor N rounds gap_us payload_bytes */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

/* The subscribers: N connections, 20,000 per 127.0.0.x source address (a port range's worth). */
static void subscribe(const struct sockaddr_in *hub, int n, pid_t sender)
{
    /* never outlive the sender (which may have died before this was asked: then it is not our parent) */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != sender) exit(1);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in source = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002 + i / 20000)};
        if (fd < 0 || bind(fd, (const struct sockaddr *) &source, sizeof source) != 0
                || connect(fd, (const struct sockaddr *) hub, sizeof *hub) != 0) fail("subscriber");
    }
    pause();
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: send_floor N rounds gap_us payload_bytes\n");
        return 2;
    }
    int n = atoi(argv[1]), rounds = atoi(argv[2]), gap_us = atoi(argv[3]), payload = atoi(argv[4]);
    if (n < 1 || rounds < 1 || gap_us < 0 || payload < 1 || payload > 125) {
        fprintf(stderr, "send_floor: N, rounds >= 1; 1 <= payload_bytes <= 125\n");
        return 2;
    }
    int one = 1, listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in hub = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof hub;
    if (listener < 0 || bind(listener, (struct sockaddr *) &hub, sizeof hub) != 0
            || getsockname(listener, (struct sockaddr *) &hub, &len) != 0 || listen(listener, 4096) != 0) fail("listen");
    pid_t sender = getpid(), subscribers = fork();
    if (subscribers < 0) fail("fork");
    if (subscribers == 0) subscribe(&hub, n, sender);
    int *fds = malloc(sizeof(int) * (size_t) n);
    for (int i = 0; i < n; i++) {
        if (!fds || (fds[i] = accept(listener, NULL, NULL)) < 0) fail("accept");
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  /* as the hub's */
    }
    char frame[127];
    frame[0] = (char) 0x81;  /* FIN, text */
    frame[1] = (char) payload;
    memset(frame + 2, 'x', (size_t) payload);
    for (int r = 0; r < rounds; r++) {
        double start = now_ms();
        for (int i = 0; i < n; i++) {
            if (send(fds[i], frame, (size_t) payload + 2, MSG_DONTWAIT) != payload + 2) fail("send");
        }
        printf("%.3f\n", now_ms() - start);
        if (gap_us) usleep((useconds_t) gap_us);
    }
    kill(subscribers, SIGKILL);
    waitpid(subscribers, NULL, 0);
    return 0;
}
