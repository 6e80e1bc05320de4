/*
 * notif_item: the alerts the engine holds, kept small while they wait.
 *
 * A decoded alert (the message's jansson tree plus nm_alert's copies of
 * its fields) takes about ten times the size of its JSON text, mostly for
 * the themes' match lists. A burst of alerts waits for channel slots, for
 * digests or for retries, hundreds at a time; held decoded, a thousand
 * alerts of the desk's size took tens of megabytes. So an item keeps its
 * decoded form only while it is among the `budget` most recently used
 * items; past that it is reduced to its compact JSON text, and decoded
 * again when an attempt needs it. Rendering is synchronous (a message is
 * built before notif_send returns), so an attempt pins its items decoded
 * only for the duration of the call. The text is written only when an
 * item is first reduced: an alert delivered as it arrives is never
 * encoded again, nor decoded twice.
 */
#include "notifier/notif.h"

#include <stdlib.h>
#include <string.h>

struct notif_item {
    int refs;
    int pins;                   /* attempts rendering it now: not reduced meanwhile */
    int64_t alert_id;
    char *text;                 /* compact JSON of the message; NULL until first reduced */
    nm_alert *alert;            /* decoded form, NULL while reduced */
    json_t *raw;                /* the message body, NULL while reduced */
    notif_item *prev, *next;    /* in the list of decoded items, most recently used first */
};

struct notif_items {
    size_t budget;              /* decoded items kept at most (pinned ones may exceed it) */
    size_t n_decoded;
    notif_item *head, *tail;
};

notif_items *notif_items_new(size_t budget)
{
    notif_items *c = nm_xcalloc(1, sizeof *c);
    c->budget = budget;
    return c;
}

void notif_items_destroy(notif_items **cp)
{
    /* Items belong to their holders, which release them before this. */
    nm_free(cp);
}

size_t notif_items_decoded(const notif_items *c)
{
    return c->n_decoded;
}

static void unlink_item(notif_items *c, notif_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        c->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        c->tail = it->prev;
    it->prev = it->next = NULL;
}

static void push_front(notif_items *c, notif_item *it)
{
    it->prev = NULL;
    it->next = c->head;
    if (c->head)
        c->head->prev = it;
    c->head = it;
    if (!c->tail)
        c->tail = it;
}

static void drop_decoded(notif_items *c, notif_item *it)
{
    unlink_item(c, it);
    nm_alert_clear(it->alert);
    free(it->alert);
    json_decref(it->raw);
    it->alert = NULL;
    it->raw = NULL;
    c->n_decoded--;
}

/* Reduces least recently used items to their text until the budget holds
   (pinned items are skipped; an item whose text cannot be written stays). */
static void trim(notif_items *c)
{
    notif_item *it = c->tail;
    while (it && c->n_decoded > c->budget) {
        notif_item *older = it->prev;
        notif_item_reduce(c, it);
        it = older;
    }
}

notif_item *notif_item_new(notif_items *c, nm_alert *a, json_t *body)
{
    notif_item *it = nm_xcalloc(1, sizeof *it);
    it->refs = 1;
    it->alert_id = a->alert_id;
    it->alert = nm_xmalloc(sizeof *it->alert);
    *it->alert = *a;
    nm_alert_init(a);
    it->raw = json_incref(body);
    push_front(c, it);
    c->n_decoded++;
    trim(c);
    return it;
}

void notif_item_reduce(notif_items *c, notif_item *it)
{
    if (!it->alert || it->pins || it->refs < 2)
        return;
    if (!it->text)
        it->text = json_dumps(it->raw, JSON_COMPACT);
    if (it->text)
        drop_decoded(c, it);
}

void notif_item_ref(notif_item *it)
{
    it->refs++;
}

void notif_item_unref(notif_items *c, notif_item *it)
{
    if (!it || --it->refs > 0)
        return;
    if (it->alert)
        drop_decoded(c, it);
    free(it->text);
    free(it);
}

int64_t notif_item_id(const notif_item *it)
{
    return it->alert_id;
}

int notif_item_pin(notif_items *c, notif_item *it, const nm_alert **alert, const json_t **raw, nm_err *err)
{
    if (it->alert) {
        unlink_item(c, it);
        push_front(c, it);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(it->text, 0, &jerr);
        if (!j)
            return nm_err_set(err, "alert %lld cannot be decoded again: %s", (long long)it->alert_id, jerr.text);
        nm_alert *a = nm_xmalloc(sizeof *a);
        if (nm_alert_from_json(j, a, err) < 0) {
            free(a);
            json_decref(j);
            return -1;
        }
        it->alert = a;
        it->raw = j;
        push_front(c, it);
        c->n_decoded++;
    }
    it->refs++;
    it->pins++;
    *alert = it->alert;
    *raw = it->raw;
    return 0;
}

void notif_item_unpin(notif_items *c, notif_item *it)
{
    it->pins--;
    notif_item_unref(c, it);
    trim(c);
}
