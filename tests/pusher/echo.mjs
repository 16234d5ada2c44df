// Laravel Echo 2 (over pusher-js 8) for the tests, driven by JSON lines on stdin, reporting JSON lines on stdout.
//   node echo.mjs <host> <port> <key> <auth url> <user>
// Commands: {"op":"listen","kind":"channel"|"private","channel":…,"event":…}
//           {"op":"join","channel":…}                      (presence: reports here/joining/leaving)
//           {"op":"whisper","kind":"private"|"join","channel":…,"event":…,"data":…}
//           {"op":"listenForWhisper","kind":"private"|"join","channel":…,"event":…}
// Reports:  {"type":"connected","socket_id":…}  {"type":"heard","channel":…,"event":…,"data":…}
//           {"type":"here","channel":…,"users":[…]}  {"type":"joining"|"leaving","channel":…,"user":…}
//           {"type":"whisper","channel":…,"event":…,"data":…}  {"type":"subscribed","channel":…}
import readline from 'node:readline';
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';

const [host, port, key, authUrl, user] = process.argv.slice(2);
const out = (report) => process.stdout.write(JSON.stringify(report) + '\n');

const echo = new Echo({
  broadcaster: 'pusher', key, Pusher, cluster: 'local',
  wsHost: host, wsPort: Number(port), forceTLS: false, enabledTransports: ['ws'], disableStats: true,
  // Laravel's /broadcasting/auth, as a PHP script; Echo would POST there with the session cookie.
  channelAuthorization: {
    customHandler: ({ socketId, channelName }, callback) => {
      fetch(authUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-User': user },
        body: new URLSearchParams({ socket_id: socketId, channel_name: channelName }),
      }).then(async (response) => {
        if (!response.ok) throw Object.assign(new Error(`auth ${response.status}`), { status: response.status });
        callback(null, await response.json());
      }).catch((error) => callback(error, null));
    },
  },
});

echo.connector.pusher.connection.bind('connected', () => out({ type: 'connected', socket_id: echo.socketId() }));

const channelOf = (kind, name) => (kind === 'private' ? echo.private(name) : kind === 'join' ? echo.join(name) : echo.channel(name));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  if (c.op === 'listen') {
    channelOf(c.kind, c.channel)
      .subscribed(() => out({ type: 'subscribed', channel: c.channel }))
      .listen(c.event, (data) => out({ type: 'heard', channel: c.channel, event: c.event, data }));
  } else if (c.op === 'join') {
    echo.join(c.channel)
      .here((users) => out({ type: 'here', channel: c.channel, users }))
      .joining((member) => out({ type: 'joining', channel: c.channel, user: member }))
      .leaving((member) => out({ type: 'leaving', channel: c.channel, user: member }));
  } else if (c.op === 'whisper') {
    channelOf(c.kind, c.channel).whisper(c.event, c.data);
  } else if (c.op === 'listenForWhisper') {
    channelOf(c.kind, c.channel)
      .subscribed(() => out({ type: 'subscribed', channel: c.channel }))
      .listenForWhisper(c.event, (data) => out({ type: 'whisper', channel: c.channel, event: c.event, data }));
  }
}).on('close', () => process.exit(0));
