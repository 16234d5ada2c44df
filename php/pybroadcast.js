// pybroadcast.js — a small browser client for the pybroadcast wire protocol.
//
//   const hub = new PyBroadcast('ws://localhost:8080/ws', { onDirect: data => … });
//   hub.subscribe('news', { onMessage: data => …, onRecovered: ok => { if (!ok) reloadNews(); } });
//   hub.subscribe('presence-lobby', { onJoin: user => …, onLeave: user => … });
//
// Reconnects with backoff and subscribes again; stops after disconnectUser() (close 4001).
// With history on the hub (history_size > 0) it remembers each channel's position (epoch and
// offset) and resubscribes with "since": messages published while it was away arrive first, in
// order, each once, and onRecovered(true) is called; onRecovered(false) says some could not be
// recovered (older than the hub keeps, or the hub lost its history): reload that state.
// A page rendered with getChannelHistory() passes its $position as subscribe()'s third argument.
class PyBroadcast {
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;          // onConnected(user, connection), onDirect(data), onError(event), onStatus(text)
    this.channels = new Map();         // channel -> handlers
    this.positions = new Map();        // channel -> { epoch, offset }: the last message received
    this.delay = 500;
    this.stopped = false;
    this.connect();
  }

  // since: { epoch, offset } to start after (e.g. getChannelHistory()'s $position), or nothing.
  subscribe(channel, handlers = {}, since = null) {
    this.channels.set(channel, handlers);
    if (since && since.epoch) this.positions.set(channel, { epoch: since.epoch, offset: since.offset });
    this.sendSubscribe(channel);
  }

  unsubscribe(channel) {
    this.channels.delete(channel);
    this.positions.delete(channel);
    this.send({ action: 'unsubscribe', channel });
  }

  close() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000);
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  sendSubscribe(channel) {
    const position = this.positions.get(channel);
    this.send(position ? { action: 'subscribe', channel, since: position } : { action: 'subscribe', channel });
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
        for (const channel of this.channels.keys()) this.sendSubscribe(channel);
        break;
      case 'subscribed':
        this.position(event);
        if (on.onSubscribed) on.onSubscribed();
        if ('recovered' in event && on.onRecovered) on.onRecovered(event.recovered);
        break;
      case 'message':
        if (event.epoch) {  // the first message of a new epoch (e.g. the channel's first ever)
          this.positions.set(event.channel, { epoch: event.epoch, offset: event.offset });
        } else if (event.offset) {
          const position = this.positions.get(event.channel);
          if (position) position.offset = event.offset;
        }
        if (on.onMessage) on.onMessage(event.data, event);
        break;
      case 'join': if (on.onJoin) on.onJoin(event.user); break;
      case 'leave': if (on.onLeave) on.onLeave(event.user); break;
      case 'direct': if (this.handlers.onDirect) this.handlers.onDirect(event.data, event); break;
      case 'error':
        if (on.onError) on.onError(event);
        if (this.handlers.onError) this.handlers.onError(event);
        break;
    }
  }

  // After "subscribed": recovered, the missed messages follow and move the offset on;
  // otherwise the position starts at the channel's newest offset. Without an epoch: history is
  // off or unreadable (when a recovery was asked for), or this tab subscribed twice (keep it).
  position(event) {
    if (!event.epoch) {
      if ('recovered' in event) this.positions.delete(event.channel);
    } else if (event.recovered === true && this.positions.has(event.channel)) {
      this.positions.get(event.channel).epoch = event.epoch;
    } else {
      this.positions.set(event.channel, { epoch: event.epoch, offset: event.offset });
    }
  }
}
