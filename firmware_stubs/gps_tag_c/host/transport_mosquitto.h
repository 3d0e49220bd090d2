/* pa_transport over libmosquitto, for the host build. */
#ifndef PA_TRANSPORT_MOSQUITTO_H
#define PA_TRANSPORT_MOSQUITTO_H

#include "../src/pa_transport.h"

struct mosquitto;

struct pa_mosq {
    struct mosquitto *mosq;
    struct pa_transport *t;
    int timeout_ms; /* for CONNACK, PUBACK, SUBACK */
    bool connected;
    int connack;
    int waiting_mid;
    bool acked;
};

void pa_mosq_transport(struct pa_transport *t, struct pa_mosq *m);
void pa_mosq_cleanup(struct pa_mosq *m);

#endif
