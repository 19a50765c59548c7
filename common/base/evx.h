/* SPDX-License-Identifier: MIT */
/* libev helpers: RD_CONTAINER_OF for watchers embedded in their owner (ev.pod "BUILDING YOUR
 * OWN COMPOSITE WATCHERS") and small start/stop/re-arm wrappers. Header only. */
#ifndef RD_BASE_EVX_H
#define RD_BASE_EVX_H

#include <ev.h>
#include <stddef.h>

/* The struct of type `type` whose member `member` is at ptr. The conditional makes the
 * compiler check that ptr really points to the member's type; it never evaluates the null
 * side. Use in watcher callbacks: struct conn *c = RD_CONTAINER_OF(w, struct conn, io); */
#define RD_CONTAINER_OF(ptr, type, member)                                                         \
    ((type *)(void *)((char *)(1 ? (ptr) : &((type *)0)->member) - offsetof(type, member)))

/* (Re)starts timer t to fire once, after_s seconds from the loop's current time (ev_now).
 * Works whether or not t is active. Loop thread only. */
static inline void
evx_timer_rearm(struct ev_loop *loop, ev_timer *t, ev_tstamp after_s)
{
    ev_timer_stop(loop, t);
    ev_timer_set(t, after_s, 0.);
    ev_timer_start(loop, t);
}

/* Sets the events an io watcher waits for (EV_READ, EV_WRITE, both, or 0 to stop it), the
 * sniproxy "reactivate" step: read only with room to read into, write only with pending
 * output. No-op when nothing changes; otherwise stop, modify, start (libev requires a
 * watcher to be stopped while it is modified). */
static inline void
evx_io_set_events(struct ev_loop *loop, ev_io *w, int events)
{
    events &= EV_READ | EV_WRITE;
    if (ev_is_active(w) && (w->events & (EV_READ | EV_WRITE)) == events)
        return;
    ev_io_stop(loop, w);
    if (events == 0)
        return;
    ev_io_set(w, w->fd, events);
    ev_io_start(loop, w);
}

/* Seconds remaining before timer t fires, 0 if it is not active. */
static inline ev_tstamp
evx_timer_remaining(struct ev_loop *loop, ev_timer *t)
{
    return ev_is_active(t) ? ev_timer_remaining(loop, t) : 0.;
}

#endif
