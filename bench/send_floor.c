/* make bench: the kernel's floor for a hub's fan-out. One thread writes one WebSocket text frame to
 * each of N loopback TCP subscribers in turn (send, no Python, no framing), `rounds` sweeps `gap_us`
 * apart; prints the sweeps' times in ms, one per line. The subscribers (a child process) never
 * read: the frames stay in their receive queues, as when a hub writes faster than they read.
 * With `writers` > 1, that many threads, each on a CPU of its own (of those the process may use),
 * share each sweep, each taking a contiguous part of the sockets; a sweep ends when all have.
 *
 * usage: send_floor N rounds gap_us payload_bytes [writers] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
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

/* What the writers share; written before they start, read-only after. */
static struct {
    int *fds, n, rounds, gap_us, writers, size;
    char frame[127];
    pthread_barrier_t start, end;
    cpu_set_t cpus;  /* the CPUs this process may use: writer k takes the k-th */
} sweep;

static void *writer(void *arg)
{
    int k = (int) (long) arg, lo = (int) ((long) sweep.n * k / sweep.writers),
        hi = (int) ((long) sweep.n * (k + 1) / sweep.writers);
    if (sweep.writers > 1) {
        cpu_set_t mine;
        CPU_ZERO(&mine);
        for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
            if (CPU_ISSET(cpu, &sweep.cpus) && seen++ == k) CPU_SET(cpu, &mine);
        }
        if (pthread_setaffinity_np(pthread_self(), sizeof mine, &mine) != 0) fail("pthread_setaffinity_np");
    }
    for (int r = 0; r < sweep.rounds; r++) {
        pthread_barrier_wait(&sweep.start);
        double start = now_ms();
        for (int i = lo; i < hi; i++) {
            if (send(sweep.fds[i], sweep.frame, (size_t) sweep.size, MSG_DONTWAIT) != sweep.size) fail("send");
        }
        pthread_barrier_wait(&sweep.end);
        if (k == 0) {
            printf("%.3f\n", now_ms() - start);
            if (sweep.gap_us) usleep((useconds_t) sweep.gap_us);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: send_floor N rounds gap_us payload_bytes [writers]\n");
        return 2;
    }
    int n = atoi(argv[1]), rounds = atoi(argv[2]), gap_us = atoi(argv[3]), payload = atoi(argv[4]);
    int writers = argc == 6 ? atoi(argv[5]) : 1;
    if (sched_getaffinity(0, sizeof sweep.cpus, &sweep.cpus) != 0) fail("sched_getaffinity");
    if (n < 1 || rounds < 1 || gap_us < 0 || payload < 1 || payload > 125 || writers < 1 || writers > n
            || writers > CPU_COUNT(&sweep.cpus)) {
        fprintf(stderr, "send_floor: N, rounds >= 1; 1 <= payload_bytes <= 125; 1 <= writers <= N and <= CPUs\n");
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
    sweep.fds = fds;
    sweep.n = n;
    sweep.rounds = rounds;
    sweep.gap_us = gap_us;
    sweep.writers = writers;
    sweep.size = payload + 2;
    sweep.frame[0] = (char) 0x81;  /* FIN, text */
    sweep.frame[1] = (char) payload;
    memset(sweep.frame + 2, 'x', (size_t) payload);
    if (pthread_barrier_init(&sweep.start, NULL, (unsigned) writers) != 0
            || pthread_barrier_init(&sweep.end, NULL, (unsigned) writers) != 0) fail("pthread_barrier_init");
    pthread_t threads[CPU_SETSIZE];
    for (int k = 1; k < writers; k++) {
        if (pthread_create(&threads[k], NULL, writer, (void *) (long) k) != 0) fail("pthread_create");
    }
    writer((void *) 0);
    for (int k = 1; k < writers; k++) pthread_join(threads[k], NULL);
    kill(subscribers, SIGKILL);
    waitpid(subscribers, NULL, 0);
    return 0;
}
