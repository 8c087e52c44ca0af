#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A stand-in for a real server: --once prints what it would do and exits, --check is the
   health check. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--check") == 0) {
        puts("healthy");
        return 0;
    }
    printf("server: uid %d, would listen on :8080\n", (int)getuid());
    if (argc > 1 && strcmp(argv[1], "--once") == 0)
        return 0;
    for (;;)
        pause();
}
