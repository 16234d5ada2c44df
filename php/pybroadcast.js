// pybroadcast.js — a small browser client for the pybroadcast wire protocol.
//
//   const hub = new PyBroadcast('ws://localhost:8080/ws', { onDirect: data => … });
//   hub.subscribe('news', { onMessage: data => … });
//   hub.subscribe('presence-lobby', { onJoin: user => …, onLeave: user => … });
//
// Reconnects with backoff and subscribes again; stops after disconnectUser() (close 4001).
class PyBroadcast {
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;          // onConnected(user, connection), onDirect(data), onError(event), onStatus(text)
    this.channels = new Map();         // channel -> handlers
    this.delay = 500;
    this.stopped = false;
    this.connect();
  }

  subscribe(channel, handlers = {}) {
    this.channels.set(channel, handlers);
    this.send({ action: 'subscribe', channel });
  }

  unsubscribe(channel) {
    this.channels.delete(channel);
    this.send({ action: 'unsubscribe', channel });
  }

  close() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000);
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  status(text) {
    if (this.handlers.onStatus) this.handlers.onStatus(text);
  }

  connect() {
    this.status('connecting…');
    const socket = this.socket = new WebSocket(this.url);
    socket.onmessage = (frame) => this.dispatch(JSON.parse(frame.data));
    socket.onclose = (close) => {
      if (close.code === 4001) this.stopped = true;  // the application disconnected this user
      if (this.stopped) {
        this.status(`disconnected (${close.code})`);
        return;
      }
      this.status(`reconnecting in ${Math.round(this.delay / 1000)} s…`);
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    };
  }

  dispatch(event) {
    const on = this.channels.get(event.channel) || {};
    switch (event.event) {
      case 'connected':
        this.delay = 500;
        this.status(`connected as ${event.user}`);
        if (this.handlers.onConnected) this.handlers.onConnected(event.user, event.connection);
        for (const channel of this.channels.keys()) this.send({ action: 'subscribe', channel });
        break;
      case 'subscribed': if (on.onSubscribed) on.onSubscribed(); break;
      case 'message': if (on.onMessage) on.onMessage(event.data); break;
      case 'join': if (on.onJoin) on.onJoin(event.user); break;
      case 'leave': if (on.onLeave) on.onLeave(event.user); break;
      case 'direct': if (this.handlers.onDirect) this.handlers.onDirect(event.data); break;
      case 'error':
        if (on.onError) on.onError(event);
        if (this.handlers.onError) this.handlers.onError(event);
        break;
    }
  }
}
