<?php
// The same chat and "who is online" as index.php, written with Laravel Echo over the Pusher protocol.
// Both pages are live at once: a message sent from either reaches both.
require __DIR__ . '/bootstrap.php';
session_start(['read_and_close' => true]);
$user = $_SESSION['user_id'] ?? null;
if ($user === null) {
    header('Location: index.php');
    exit;
}
$h = fn(string $s): string => htmlspecialchars($s, ENT_QUOTES);
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pybroadcast demo (Laravel Echo)</title>
<link rel="stylesheet" href="demo.css">
</head>
<body>
<h1>pybroadcast demo <small>(Laravel Echo)</small></h1>
<p id="status">connecting…</p>
<div class="cols">
  <section>
    <h2>#<?= $h(DEMO_CHANNEL) ?></h2>
    <ul id="messages"></ul>
    <p id="typing"></p>
    <form id="send">
      <input name="message" placeholder="say something" autocomplete="off" required>
      <button>Send</button>
    </form>
  </section>
  <aside>
    <h2>Who is online</h2>
    <ul id="online"></ul>
  </aside>
</div>
<p><a href="index.php">the same page with pybroadcast.js</a></p>
<script src="vendor.php?f=pusher.js"></script>
<script src="vendor.php?f=echo.js"></script>
<script>
  const me = <?= json_encode($user) ?>;
  const messages = document.getElementById('messages');
  const show = (text, cls) => {
    const li = document.createElement('li');
    li.textContent = typeof text === 'string' ? text : JSON.stringify(text);  // text, never HTML
    if (cls) li.className = cls;
    messages.appendChild(li);
  };
  const online = new Map();  // user id -> name (the user_info onAuthorize returns)
  const renderOnline = () => {
    const list = document.getElementById('online');
    list.replaceChildren(...[...online.values()].sort().map(name => {
      const li = document.createElement('li');
      li.textContent = name;
      if (name === me) li.className = 'me';
      return li;
    }));
  };
  const echo = new Echo.default({
    broadcaster: 'pusher', key: <?= json_encode(demo_pusher_key()) ?>, Pusher, cluster: 'local',
    wsHost: location.hostname, wsPort: <?= json_encode((int) (getenv('DEMO_HUB_PORT') ?: 8080)) ?>,
    forceTLS: false, enabledTransports: ['ws'], disableStats: true,
    // No /broadcasting/auth round trip: the hub knows this connection from the session cookie
    // and asks its onAuthorize in process when the signature is left empty. (pusher-js wants a
    // channel_data on presence channels to know which member is "me"; the hub ignores an
    // unsigned one: identity comes from the session.)
    channelAuthorization: {
      customHandler: (params, callback) => callback(null, { auth: '', channel_data: JSON.stringify({ user_id: me }) }),
    },
  });
  const connection = echo.connector.pusher.connection;
  connection.bind('state_change', ({ current }) => {
    document.getElementById('status').textContent = current === 'connected' ? `connected as ${me}` : current;
  });
  echo.channel(<?= json_encode(DEMO_CHANNEL) ?>).listen('.message', (data) => show(data));
  // private-user-<me>: notices for this user only (broadcast('private-user-alice', …, 'Notice'))
  echo.private(`user-${me}`).listen('.Notice', (data) => show(data, 'direct'));
  const lobby = echo.join(<?= json_encode(substr(DEMO_PRESENCE, strlen('presence-'))) ?>)
    .here(users => { users.forEach(u => online.set(u.name, u.name)); renderOnline(); })
    .joining(u => { online.set(u.name, u.name); renderOnline(); })
    .leaving(u => { online.delete(u.name); renderOnline(); })
    .listenForWhisper('typing', (e) => {  // a client event from another member, straight through the hub
      const typing = document.getElementById('typing');
      typing.textContent = `${e.name} is typing…`;
      clearTimeout(typing.timer);
      typing.timer = setTimeout(() => { typing.textContent = ''; }, 3000);
    });
  const input = document.querySelector('#send [name=message]');
  let lastWhisper = 0;
  input.addEventListener('input', () => {
    if (Date.now() - lastWhisper > 1000) { lobby.whisper('typing', { name: me }); lastWhisper = Date.now(); }
  });
  document.getElementById('send').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    form.set('channel', <?= json_encode(DEMO_CHANNEL) ?>);
    show(form.get('message'));  // shown at once here; the hub sends it to everyone else (toOthers)
    // X-Socket-ID: what Echo adds to axios/jQuery/Turbo requests, so that the app can say toOthers().
    const reply = await fetch('send.php', { method: 'POST', body: form, headers: { 'X-Socket-ID': echo.socketId() } });
    if (!reply.ok) show(`error: ${(await reply.json()).error}`);
    e.target.message.value = '';
  });
</script>
</body>
</html>
