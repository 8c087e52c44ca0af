#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--self-test") == 0) {
        return 0;
    }
    const char *greeting = getenv("GREETING");
    printf("%s\n", greeting && *greeting ? greeting : "hello, world");
    return 0;
}
