'use strict';
// page.js runs in the test page beside MQTT.js's browser bundle (global
// mqtt). It keeps named MQTT.js clients and offers window.bt, whose
// functions driver.js's "call" command awaits. Every wait is bounded by
// a timeout in milliseconds and rejects with what it saw.
(function () {
  const clients = new Map();
  const decoder = new TextDecoder();

  function state(name) {
    const st = clients.get(name);
    if (!st) throw new Error(`no client named ${name}`);
    return st;
  }

  function changed(st) {
    const waiters = st.waiters;
    st.waiters = [];
    for (const w of waiters) w();
  }

  // until resolves once check(st) returns a value other than undefined,
  // looking after every event of the client; it rejects after ms.
  function until(st, ms, what, check) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${st.name}: ${what}: timed out after ${ms} ms; ` +
          `messages ${JSON.stringify(st.messages)}; events ${JSON.stringify(st.events)}`));
      }, ms);
      const look = () => {
        let v;
        try {
          v = check(st);
        } catch (e) {
          clearTimeout(timer);
          reject(e);
          return;
        }
        if (v === undefined) {
          st.waiters.push(look);
        } else {
          clearTimeout(timer);
          resolve(v);
        }
      };
      look();
    });
  }

  // connect opens client name to url with MQTT.js options opts (no
  // automatic reconnects) and resolves with the CONNACK's session present
  // flag and reason code, or rejects when the connection fails or no
  // CONNACK comes within ms.
  function connect(name, url, opts, ms) {
    const old = clients.get(name);
    if (old && !old.closed) throw new Error(`client ${name} is still open`);
    const st = { name, messages: [], events: [], waiters: [], connack: null, closed: false, error: null };
    clients.set(name, st);
    st.client = mqtt.connect(url, Object.assign({ reconnectPeriod: 0, connectTimeout: ms }, opts));
    st.client.on('connect', (connack) => {
      st.events.push('connect');
      st.connack = { sessionPresent: !!connack.sessionPresent, reasonCode: connack.reasonCode || connack.returnCode || 0 };
      changed(st);
    });
    st.client.on('message', (topic, payload, packet) => {
      st.messages.push({ topic, payload: decoder.decode(payload), qos: packet.qos, retain: !!packet.retain });
      changed(st);
    });
    st.client.on('error', (err) => {
      st.events.push('error: ' + ((err && err.message) || err));
      st.error = st.error || String((err && err.message) || err);
      changed(st);
    });
    st.client.on('close', () => {
      st.events.push('close');
      st.closed = true;
      changed(st);
    });
    st.client.on('disconnect', (packet) => {
      st.events.push('disconnect ' + (packet && packet.reasonCode));
      changed(st);
    });
    return until(st, ms, `connect to ${url}`, (s) => {
      if (s.connack) return s.connack;
      if (s.error) throw new Error(`${name}: connect to ${url}: ${s.error}`);
      if (s.closed) throw new Error(`${name}: connection to ${url} closed before CONNACK; events ${JSON.stringify(s.events)}`);
      return undefined;
    });
  }

  // refused resolves with the events of a connection attempt that must
  // fail: it rejects if a CONNACK comes.
  async function refused(name, url, opts, ms) {
    try {
      await connect(name, url, opts, ms);
    } catch (e) {
      const st = state(name);
      st.client.end(true);
      return { events: st.events, error: String(e.message || e) };
    }
    state(name).client.end(true);
    throw new Error(`${name}: ${url} accepted the connection`);
  }

  // subscribe resolves with the granted QoS (or v5 reason code) of each filter.
  function subscribe(name, filters, qos, ms) {
    const st = state(name);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no SUBACK within ${ms} ms`)), ms);
      st.client.subscribe(filters, { qos }, (err, granted) => {
        clearTimeout(timer);
        if (err) reject(new Error(`${name}: subscribe ${filters}: ${err.message || err}`));
        else resolve(granted.map((g) => g.qos));
      });
    });
  }

  // publish resolves once the QoS flow of the message is complete (QoS 0:
  // written).
  function publish(name, topic, payload, qos, ms) {
    const st = state(name);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: publish ${topic} QoS ${qos} not acknowledged within ${ms} ms`)), ms);
      st.client.publish(topic, payload, { qos }, (err) => {
        clearTimeout(timer);
        if (err) reject(new Error(`${name}: publish ${topic}: ${err.message || err}`));
        else resolve(null);
      });
    });
  }

  // waitMessages resolves with every message received so far once there
  // are at least n.
  function waitMessages(name, n, ms) {
    return until(state(name), ms, `wait for ${n} messages`, (s) => (s.messages.length >= n ? s.messages.slice() : undefined));
  }

  // waitTopic resolves with the messages received so far once one on
  // topic has come.
  function waitTopic(name, topic, ms) {
    return until(state(name), ms, `wait for a message on ${topic}`, (s) =>
      (s.messages.some((m) => m.topic === topic) ? s.messages.slice() : undefined));
  }

  // end closes the client: with force false it sends DISCONNECT first.
  function end(name, force, ms) {
    const st = state(name);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: end did not finish within ${ms} ms`)), ms);
      st.client.end(force, {}, () => {
        clearTimeout(timer);
        resolve(st.events);
      });
    });
  }

  window.bt = { connect, refused, subscribe, publish, waitMessages, waitTopic, end };
})();
