/* What both C servers share of SOCKLAB_WAIT_FOR_TRACER (see server/tracer.py for the Python servers). */
#ifndef SOCKLAB_TRACER_H
#define SOCKLAB_TRACER_H

#include <stdio.h>

/* The PID of the process tracing this one (TracerPid in /proc/self/status), 0 if none. */
static long tracer_pid(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    long pid = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "TracerPid: %ld", &pid) == 1)
            break;
    fclose(f);
    return pid;
}

#endif
