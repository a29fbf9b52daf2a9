/*
 * loadgen: replays pre-built RADIUS packets over UDP and measures each answer's latency.
 *
 * The packets (built and signed by bench/packets.py) are sent strictly in file order, so that
 * "sent" is always a prefix of the file and the caller knows which one-time codes were used.
 * Packet i is sent on socket i % nsock and must carry identifier (i / nsock) % 256: with at most
 * 256 * nsock - 256 packets in flight, no two outstanding requests share (socket, identifier),
 * and the requests in flight are spread over every socket (every source port), so a server whose
 * workers share the port through SO_REUSEPORT gets them on every worker.
 *
 * Two modes: closed loop (-w WINDOW packets in flight, as fast as the server answers) and open
 * loop (-r RATE packets per second on a fixed schedule, for latency at a given load).
 * Output: one JSON object on stdout.
 *
 *   loadgen -h HOST -p PORT -f FILE [-w WINDOW] [-r RATE] [-d SECONDS] [-t TIMEOUT] [-s SOCKETS]
 *           [-l TIMELINE]   (a file: per answer, when it was sent and its latency, in ms)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXSOCK 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float pct(float *v, long n, double p) {
    if (n == 0) return -1;
    long i = (long)(p * (n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *file = NULL, *timeline = NULL;
    int port = 1812, window = 128, nsock = 16, opt;
    double rate = 0, duration = 10, timeout = 2;
    while ((opt = getopt(argc, argv, "h:p:f:w:r:d:t:s:l:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'f': file = optarg; break;
        case 'w': window = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 't': timeout = atof(optarg); break;
        case 's': nsock = atoi(optarg); break;
        case 'l': timeline = optarg; break;
        default: fprintf(stderr, "usage: see source\n"); return 2;
        }
    }
    if (!file || nsock < 1 || nsock > MAXSOCK || window < 1 || window > 256 * (nsock - 1)) {
        fprintf(stderr, "loadgen: need -f FILE, 1 <= sockets <= %d, 1 <= window <= 256*(sockets-1)\n",
                MAXSOCK);
        return 2;
    }

    /* The file: u32 count, then per packet u16 length (big endian) and the packet. */
    int fd = open(file, O_RDONLY);
    if (fd < 0) { perror(file); return 2; }
    struct stat st;
    fstat(fd, &st);
    unsigned char *buf = malloc(st.st_size);
    if (read(fd, buf, st.st_size) != st.st_size) { perror("read"); return 2; }
    close(fd);
    long count = (long)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
    unsigned char **pkt = malloc(count * sizeof *pkt);
    unsigned short *plen = malloc(count * sizeof *plen);
    long off = 4;
    for (long i = 0; i < count; i++) {
        plen[i] = buf[off] << 8 | buf[off + 1];
        pkt[i] = buf + off + 2;
        off += 2 + plen[i];
        if (off > st.st_size || pkt[i][1] != ((i / nsock) & 255)) {
            fprintf(stderr, "loadgen: packet %ld malformed or its identifier is not (i / sockets) %% 256\n", i);
            return 2;
        }
    }

    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &to.sin_addr);
    int socks[MAXSOCK];
    struct pollfd pfd[MAXSOCK];
    for (int s = 0; s < nsock; s++) {
        socks[s] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        int size = 4 << 20;
        setsockopt(socks[s], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        setsockopt(socks[s], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        if (connect(socks[s], (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 2; }
        pfd[s].fd = socks[s];
        pfd[s].events = POLLIN;
    }

    /* slot[s][id]: the packet index outstanding there, or -1. */
    static long slot[MAXSOCK][256];
    static double sent_at[MAXSOCK][256];
    for (int s = 0; s < MAXSOCK; s++)
        for (int i = 0; i < 256; i++) slot[s][i] = -1;
    float *lat = malloc(count * sizeof *lat);
    float *lat_sent = malloc(count * sizeof *lat_sent); /* when each answered request was sent */
    long next = 0, inflight = 0, answered = 0, lost = 0, late = 0, codes[256] = {0};
    long behind = 0; /* open loop: loop turns on which a due send was held back by a full window */
    double start = now(), end_send = start + duration, last_sweep = start, last_rx = start;
    unsigned char rx[4096];

    for (;;) {
        double t = now();
        /* Send what is due. */
        while (next < count && t < end_send && inflight < window) {
            if (rate > 0 && t < start + next / rate) break;
            /* Round robin over the sockets: every source port, and so every worker of a server
             * sharing its port with SO_REUSEPORT, gets its share of the requests in flight. */
            int s = next % nsock, id = (next / nsock) & 255;
            if (slot[s][id] != -1) break; /* a very old request still outstanding there */
            if (send(socks[s], pkt[next], plen[next], 0) < 0) {
                if (errno == EAGAIN || errno == ENOBUFS) break;
                perror("send");
                return 1;
            }
            slot[s][id] = next;
            sent_at[s][id] = t;
            inflight++;
            next++;
        }
        if (rate > 0 && next < count && t < end_send && inflight >= window && t > start + next / rate)
            behind++;
        if ((next >= count || t >= end_send) && inflight == 0) break;

        /* Wait for answers, or until the next packet is due: ppoll sleeps to the microsecond, so
         * an open loop at thousands of packets per second sleeps between them instead of
         * spinning on a zero timeout (a core taken from the server measured). */
        double wait = 0.001;
        if (rate > 0 && inflight < window && next < count) {
            double due = start + next / rate - t;
            wait = due > 0 ? due : 0;
        }
        struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
        if (ppoll(pfd, nsock, &ts, NULL) > 0) {
            for (int s = 0; s < nsock; s++) {
                if (!(pfd[s].revents & POLLIN)) continue;
                for (;;) {
                    ssize_t n = recv(socks[s], rx, sizeof rx, 0);
                    if (n < 0) break;
                    if (n < 20) continue;
                    int id = rx[1];
                    if (slot[s][id] == -1) { late++; continue; }
                    double r = now();
                    last_rx = r;
                    lat_sent[answered] = (float)((sent_at[s][id] - start) * 1000.0);
                    lat[answered++] = (float)((r - sent_at[s][id]) * 1000.0);
                    codes[rx[0]]++;
                    slot[s][id] = -1;
                    inflight--;
                }
            }
        }
        /* Requests unanswered after the timeout count as lost. */
        t = now();
        if (t - last_sweep > 0.05) {
            last_sweep = t;
            for (int s = 0; s < nsock; s++)
                for (int i = 0; i < 256; i++)
                    if (slot[s][i] != -1 && t - sent_at[s][i] > timeout) {
                        slot[s][i] = -1;
                        inflight--;
                        lost++;
                    }
        }
    }
    /* Throughput over the time the answers took, excluding a trailing timeout wait. */
    double elapsed = last_rx - start;
    if (elapsed <= 0) elapsed = now() - start;
    if (timeline) { /* the start (CLOCK_MONOTONIC, s), then per answer: ms since then when sent,
                     * latency in ms */
        FILE *out = fopen(timeline, "w");
        if (!out) { perror(timeline); return 2; }
        fprintf(out, "# start %.6f\n", start);
        for (long i = 0; i < answered; i++) fprintf(out, "%.3f %.3f\n", lat_sent[i], lat[i]);
        fclose(out);
    }
    qsort(lat, answered, sizeof *lat, cmp_float);
    printf("{\"sent\": %ld, \"answered\": %ld, \"lost\": %ld, \"late\": %ld, \"elapsed\": %.4f, "
           "\"rps\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
           "\"accept\": %ld, \"reject\": %ld, \"challenge\": %ld, \"behind_schedule\": %ld, "
           "\"window\": %d, \"rate\": %.1f, \"sockets\": %d}\n",
           next, answered, lost, late, elapsed, answered / elapsed, pct(lat, answered, 0.5),
           pct(lat, answered, 0.9), pct(lat, answered, 0.99), answered ? lat[answered - 1] : -1.0,
           codes[2], codes[3], codes[11], behind, window, rate, nsock);
    return 0;
}
