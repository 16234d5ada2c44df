// A real pusher-js 8 client for the tests, driven by JSON lines on stdin, reporting JSON lines on stdout.
//   node client.mjs <host> <port> <key> <auth url> <user>
// Commands: {"op":"subscribe","channel":…,"auth":…?}  (auth given: used as is, e.g. a forged one)
//           {"op":"trigger","channel":…,"event":"client-…","data":…}  (a client event)
//           {"op":"unsubscribe","channel":…}  {"op":"signin"}  {"op":"disconnect"}
// Reports:  {"type":"state","state":…}  {"type":"connected","socket_id":…}
//           {"type":"subscribed","channel":…,"members":…}  {"type":"subscription_error","channel":…,"status":…}
//           {"type":"event","channel":…,"event":…,"data":…}  {"type":"user_event","event":…,"data":…}
//           {"type":"member_added"|"member_removed","channel":…,"id":…}  {"type":"error","code":…}
//           {"type":"cache_miss","channel":…}  (a cache channel had no message to give)
//           {"type":"user_ready","channel":"#server-to-user-…"}  (after signin: user events will arrive)
import readline from 'node:readline';
import Pusher from 'pusher-js';

const [host, port, key, authUrl, user] = process.argv.slice(2);
const out = (report) => process.stdout.write(JSON.stringify(report) + '\n');
const forged = new Map();  // channel -> auth to send instead of asking the auth endpoint

async function askAuthEndpoint(fields) {
  const response = await fetch(authUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-User': user },
    body: new URLSearchParams(fields),
  });
  if (!response.ok) {
    const error = new Error(`auth endpoint answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

const pusher = new Pusher(key, {
  wsHost: host, wsPort: Number(port), forceTLS: false, enabledTransports: ['ws'],
  cluster: 'local', disableStats: true,
  channelAuthorization: {
    customHandler: ({ socketId, channelName }, callback) => {
      if (forged.has(channelName)) return callback(null, { auth: forged.get(channelName) });
      askAuthEndpoint({ socket_id: socketId, channel_name: channelName })
        .then((answer) => callback(null, answer), (error) => callback(error, null));
    },
  },
  userAuthentication: {
    customHandler: ({ socketId }, callback) => {
      askAuthEndpoint({ socket_id: socketId }).then((answer) => callback(null, answer), (error) => callback(error, null));
    },
  },
});

pusher.connection.bind('state_change', ({ current }) => out({ type: 'state', state: current }));
pusher.connection.bind('connected', () => out({ type: 'connected', socket_id: pusher.connection.socket_id }));
pusher.connection.bind('error', (error) => out({ type: 'error', code: error?.data?.code ?? error?.error?.data?.code ?? null }));
pusher.connection.bind('message', (event) => {  // pusher-js's own subscription after signin
  if (event.event === 'pusher_internal:subscription_succeeded' && event.channel?.startsWith('#server-to-user-')) {
    out({ type: 'user_ready', channel: event.channel });
  }
});
pusher.user.bind_global((event, data) => {
  if (!event.startsWith('pusher')) out({ type: 'user_event', event, data });
});

function subscribe(channelName) {
  const channel = pusher.subscribe(channelName);
  channel.bind('pusher:subscription_succeeded', (members) => {
    const found = members && members.each ? {} : null;  // presence: id -> user_info, as Echo's here() sees them
    if (found) members.each((member) => { found[member.id] = member.info ?? null; });
    out({ type: 'subscribed', channel: channelName, members: found });
  });
  channel.bind('pusher:subscription_error', (error) => out({ type: 'subscription_error', channel: channelName, status: error.status }));
  channel.bind('pusher:member_added', (member) => out({ type: 'member_added', channel: channelName, id: member.id, info: member.info ?? null }));
  channel.bind('pusher:member_removed', (member) => out({ type: 'member_removed', channel: channelName, id: member.id }));
  channel.bind('pusher:cache_miss', () => out({ type: 'cache_miss', channel: channelName }));
  channel.bind_global((event, data) => {
    if (!event.startsWith('pusher')) out({ type: 'event', channel: channelName, event, data });
  });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.op === 'subscribe') {
    if (command.auth !== undefined) forged.set(command.channel, command.auth);
    subscribe(command.channel);
  } else if (command.op === 'unsubscribe') {
    pusher.unsubscribe(command.channel);
  } else if (command.op === 'trigger') {
    out({ type: 'triggered', ok: pusher.channel(command.channel).trigger(command.event, command.data) });
  } else if (command.op === 'signin') {
    pusher.signin();
  } else if (command.op === 'disconnect') {
    pusher.disconnect();
  }
}).on('close', () => process.exit(0));
