/*
 * pam_radiusd: the PAM side of radiusd's SSH/console two-factor login.
 *
 * This module is deliberately small: it starts radiusd's helper (`python -I -m radiusd.pamclient`)
 * with a clean environment, hands it the PAM items, and relays the helper's prompts and messages
 * through the application's PAM conversation. All RADIUS work (Message-Authenticator, failover,
 * challenges, enrolment) lives in the helper. See docs/pam.md for why.
 *
 * Wire format on the socket, both ways: "<WORD> <LENGTH>\n" followed by LENGTH bytes.
 *   module -> helper: ITEM frames ("user=…", "rhost=…", "service=…", "tty=…", "authtok=…"), END,
 *                     then ANSWER (a prompt's reply) or ABORT (the conversation failed).
 *   helper -> module: ECHO_OFF / ECHO_ON (prompt, wants an answer), INFO / ERROR (text),
 *                     AUTHTOK (set PAM_AUTHTOK for later modules), RESULT (success | reject |
 *                     unavailable | ignore | abort), which ends the exchange.
 * Anything unexpected, a dead helper included, is a failed login: the module fails closed.
 *
 * Arguments: python=PATH (interpreter, default RADIUSD_PYTHON below); every other argument is
 * passed to the helper unchanged.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#ifndef RADIUSD_PYTHON
#define RADIUSD_PYTHON "/usr/bin/python3"
#endif

#define MAX_FRAME 65536
#define MAX_ARGS 64

struct frame {
    char word[16];
    char *data; /* NUL-terminated, length len */
    size_t len;
};

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL); /* a dead helper must not SIGPIPE the app */
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, const char *word, const char *data, size_t len) {
    char head[48];
    int h = snprintf(head, sizeof head, "%s %zu\n", word, len);
    if (h < 0 || (size_t)h >= sizeof head) return -1;
    if (write_all(fd, head, (size_t)h) < 0) return -1;
    return len ? write_all(fd, data, len) : 0;
}

static int send_item(int fd, const char *key, const char *value) {
    if (value == NULL) return 0;
    size_t klen = strlen(key), vlen = strlen(value);
    char *buf = malloc(klen + 1 + vlen);
    if (buf == NULL) return -1;
    memcpy(buf, key, klen);
    buf[klen] = '=';
    memcpy(buf + klen + 1, value, vlen);
    int rc = send_frame(fd, "ITEM", buf, klen + 1 + vlen);
    explicit_bzero(buf, klen + 1 + vlen);
    free(buf);
    return rc;
}

/* Reads one frame; the header is read a byte at a time so nothing past it is consumed. */
static int recv_frame(int fd, struct frame *f) {
    char head[48];
    size_t i = 0;
    for (;;) {
        if (i >= sizeof head - 1 || read_all(fd, &head[i], 1) < 0) return -1;
        if (head[i] == '\n') break;
        i++;
    }
    head[i] = '\0';
    char *space = strchr(head, ' ');
    if (space == NULL || (size_t)(space - head) >= sizeof f->word) return -1;
    memcpy(f->word, head, (size_t)(space - head));
    f->word[space - head] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long len = strtoul(space + 1, &end, 10);
    if (errno || end == space + 1 || *end != '\0' || len > MAX_FRAME) return -1;
    f->data = malloc(len + 1);
    if (f->data == NULL) return -1;
    if (len && read_all(fd, f->data, len) < 0) {
        free(f->data);
        return -1;
    }
    f->data[len] = '\0';
    f->len = len;
    return 0;
}

static void free_frame(struct frame *f) {
    if (f->data) {
        explicit_bzero(f->data, f->len);
        free(f->data);
        f->data = NULL;
    }
}

static int converse(pam_handle_t *pamh, int style, const char *text, char **answer) {
    const struct pam_conv *conv = NULL;
    if (pam_get_item(pamh, PAM_CONV, (const void **)&conv) != PAM_SUCCESS || conv == NULL ||
        conv->conv == NULL)
        return PAM_CONV_ERR;
    struct pam_message msg = {.msg_style = style, .msg = text};
    const struct pam_message *msgs[1] = {&msg};
    struct pam_response *resp = NULL;
    int rc = conv->conv(1, msgs, &resp, conv->appdata_ptr);
    if (rc != PAM_SUCCESS) return rc;
    if (answer != NULL) {
        if (resp == NULL || resp[0].resp == NULL) {
            free(resp);
            return PAM_CONV_ERR;
        }
        *answer = resp[0].resp;
    } else if (resp != NULL && resp[0].resp != NULL) {
        explicit_bzero(resp[0].resp, strlen(resp[0].resp));
        free(resp[0].resp);
    }
    free(resp);
    return PAM_SUCCESS;
}

static pid_t start_helper(const char *python, int argc, const char **argv, int *fd_out) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    const char *args[MAX_ARGS + 5];
    int n = 0;
    args[n++] = python;
    args[n++] = "-I"; /* isolated: ignores PYTHON* variables, the user's site and the cwd */
    args[n++] = "-m";
    args[n++] = "radiusd.pamclient";
    for (int i = 0; i < argc && n < MAX_ARGS + 4; i++)
        if (strncmp(argv[i], "python=", 7) != 0) args[n++] = argv[i];
    args[n] = NULL;
    /* A clean environment: the calling user must not steer the root helper (su keeps theirs). */
    char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", NULL};

    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: the socket becomes stdin and stdout; nothing else of the parent stays open. */
        if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0) _exit(127);
        closefrom(3);
        signal(SIGPIPE, SIG_DFL);
        execve(python, (char *const *)args, envp);
        _exit(127);
    }
    close(sv[1]);
    *fd_out = sv[0];
    return pid;
}

static int result_code(const char *word) {
    if (strcmp(word, "success") == 0) return PAM_SUCCESS;
    if (strcmp(word, "unavailable") == 0) return PAM_AUTHINFO_UNAVAIL;
    if (strcmp(word, "ignore") == 0) return PAM_IGNORE; /* fail-open: the rest of the stack decides */
    if (strcmp(word, "abort") == 0) return PAM_CONV_ERR;
    return PAM_AUTH_ERR;
}

/* Relays the helper's requests until it sends RESULT; returns the PAM code for that result. */
static int relay(pam_handle_t *pamh, int fd) {
    for (;;) {
        struct frame f = {0};
        if (recv_frame(fd, &f) < 0) return PAM_AUTH_ERR;
        int rc = PAM_SUCCESS;
        if (strcmp(f.word, "RESULT") == 0) {
            rc = result_code(f.data);
            free_frame(&f);
            return rc;
        } else if (strcmp(f.word, "ECHO_OFF") == 0 || strcmp(f.word, "ECHO_ON") == 0) {
            char *answer = NULL;
            int style = strcmp(f.word, "ECHO_OFF") == 0 ? PAM_PROMPT_ECHO_OFF : PAM_PROMPT_ECHO_ON;
            if (converse(pamh, style, f.data, &answer) == PAM_SUCCESS) {
                size_t alen = strlen(answer);
                rc = send_frame(fd, "ANSWER", answer, alen);
                explicit_bzero(answer, alen);
                free(answer);
            } else {
                rc = send_frame(fd, "ABORT", NULL, 0);
            }
        } else if (strcmp(f.word, "INFO") == 0) {
            converse(pamh, PAM_TEXT_INFO, f.data, NULL);
        } else if (strcmp(f.word, "ERROR") == 0) {
            converse(pamh, PAM_ERROR_MSG, f.data, NULL);
        } else if (strcmp(f.word, "AUTHTOK") == 0) {
            pam_set_item(pamh, PAM_AUTHTOK, f.data);
        } else {
            rc = -1;
        }
        free_frame(&f);
        if (rc != PAM_SUCCESS) return PAM_AUTH_ERR;
    }
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    (void)flags;
    const char *python = RADIUSD_PYTHON;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "python=", 7) == 0) python = argv[i] + 7;

    const char *user = NULL;
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || *user == '\0')
        return PAM_USER_UNKNOWN;
    const void *rhost = NULL, *service = NULL, *tty = NULL, *authtok = NULL;
    pam_get_item(pamh, PAM_RHOST, &rhost);
    pam_get_item(pamh, PAM_SERVICE, &service);
    pam_get_item(pamh, PAM_TTY, &tty);
    pam_get_item(pamh, PAM_AUTHTOK, &authtok);

    /* The application's SIGCHLD handler could reap our child first; waitpid then fails with
     * ECHILD, which is harmless because the outcome comes from the RESULT frame. */
    int fd = -1;
    pid_t pid = start_helper(python, argc, argv, &fd);
    if (pid < 0) {
        pam_syslog(pamh, LOG_ERR, "cannot start helper %s: %m", python);
        return PAM_AUTH_ERR;
    }
    int rc = PAM_AUTH_ERR;
    if (send_item(fd, "user", user) == 0 && send_item(fd, "rhost", rhost) == 0 &&
        send_item(fd, "service", service) == 0 && send_item(fd, "tty", tty) == 0 &&
        send_item(fd, "authtok", authtok) == 0 && send_frame(fd, "END", NULL, 0) == 0)
        rc = relay(pamh, fd);
    close(fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc == PAM_AUTH_ERR && WIFEXITED(status) && WEXITSTATUS(status) == 127)
        pam_syslog(pamh, LOG_ERR, "helper %s could not be run", python);
    return rc;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
