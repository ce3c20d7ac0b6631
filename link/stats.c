#include "link/link.h"

#include <stdarg.h>

struct out {
	char *p;
	size_t left;
	bool ok;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(o->p, o->left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->left) {
		o->ok = false;
		o->left = 0;
		return;
	}
	o->p += n;
	o->left -= n;
}

static void put_side(struct out *o, const struct side *s)
{
	put(o, "\"%c\":{\"connected\":%s,\"connects\":%llu,\"refused_connects\":%llu,\"strangers\":%llu,"
	       "\"hangups\":%llu,\"kicks\":%llu,\"calls\":%llu,\"calls_folded\":%llu,\"refused_requests\":%llu},",
	    s->label, s->conn_fd >= 0 ? "true" : "false", (unsigned long long)s->connects,
	    (unsigned long long)s->refused_connects, (unsigned long long)s->strangers,
	    (unsigned long long)s->hangups, (unsigned long long)s->kicks,
	    (unsigned long long)s->calls, (unsigned long long)s->calls_folded,
	    (unsigned long long)s->dev.refused);
}

static void put_dir(struct out *o, const char *name, const struct copy_stats *c)
{
	put(o, "\"%s\":{\"frames\":%llu,\"bytes\":%llu,\"drop_no_peer\":%llu,\"drop_bad_header\":%llu,"
	       "\"drop_size\":%llu,\"drop_rx_small\":%llu,\"drop_complex\":%llu},",
	    name, (unsigned long long)c->frames, (unsigned long long)c->bytes,
	    (unsigned long long)c->drop_no_peer, (unsigned long long)c->drop_bad_header,
	    (unsigned long long)c->drop_size, (unsigned long long)c->drop_rx_small,
	    (unsigned long long)c->drop_complex);
}

bool stats_json(const struct link *l, char *buf, size_t size)
{
	struct out o = { buf, size, true };

	put(&o, "{\"name\":\"%s\",", l->name);
	put_side(&o, &l->side[0]);
	put_side(&o, &l->side[1]);
	put_dir(&o, "a_to_b", &l->dir[0]);
	put_dir(&o, "b_to_a", &l->dir[1]);
	put(&o, "\"sleeps\":%llu,\"bursts\":%llu}\n", (unsigned long long)l->sleeps,
	    (unsigned long long)l->bursts);
	return o.ok;
}
