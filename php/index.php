<?php
require __DIR__ . '/bootstrap.php';
session_start(['read_and_close' => true]);
$user = $_SESSION['user_id'] ?? null;
$h = fn(string $s): string => htmlspecialchars($s, ENT_QUOTES);
// The newest messages, rendered with the page; the client then subscribes from $position,
// so what is published meanwhile arrives too (history_size = 0: none, and no position).
$recent = [];
$position = null;
if ($user !== null) {
    try {
        $recent = getChannelHistory(DEMO_CHANNEL, 20, $position);
    } catch (PyBroadcast\Exception $e) {
        // the hub is away: the page still loads, and the client connects when it is back
    }
}
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pybroadcast demo</title>
<link rel="stylesheet" href="demo.css">
</head>
<body>
<h1>pybroadcast demo</h1>
<?php if ($user === null): ?>
  <form action="login.php" method="get">
    <input name="user" placeholder="your name" pattern="[A-Za-z0-9_.\-]{1,64}" required autofocus>
    <button>Log in</button>
  </form>
<?php else: ?>
  <p id="status">connecting…</p>
  <div class="cols">
    <section>
      <h2>#<?= $h(DEMO_CHANNEL) ?></h2>
      <ul id="messages"><?php foreach ($recent as $m): ?><li><?= $h($m['data']) ?></li><?php endforeach ?></ul>
      <form id="send">
        <input name="message" placeholder="say something" autocomplete="off" required>
        <input name="user" placeholder="to user (optional)" size="12">
        <button>Send</button>
      </form>
    </section>
    <aside>
      <h2>Who is online</h2>
      <ul id="online"></ul>
    </aside>
  </div>
  <script src="pybroadcast.js"></script>
  <script>
    const me = <?= json_encode($user) ?>;
    const messages = document.getElementById('messages');
    const online = new Set();
    const show = (text, cls) => {
      const li = document.createElement('li');
      li.textContent = text;           // text, never HTML: messages are shown exactly as sent
      if (cls) li.className = cls;
      messages.appendChild(li);
    };
    const renderOnline = () => {
      const list = document.getElementById('online');
      list.replaceChildren(...[...online].sort().map(u => {
        const li = document.createElement('li');
        li.textContent = u;
        if (u === me) li.className = 'me';
        return li;
      }));
    };
    const hub = new PyBroadcast(<?= json_encode(demo_hub_url()) ?>, {
      onStatus: text => document.getElementById('status').textContent = text,
      onDirect: data => show(data, 'direct'),
      onError: event => show(`error: ${event.message}`),
    });
    hub.subscribe(<?= json_encode(DEMO_CHANNEL) ?>, {
      onMessage: data => show(data),
      onRecovered: ok => { if (!ok) show('(messages were missed while away: reload to see them)', 'notice'); },
    }, <?= json_encode($position) ?>);
    hub.subscribe(<?= json_encode(DEMO_PRESENCE) ?>, {
      onSubscribed: async () => {
        const reply = await fetch('users.php?channel=' + encodeURIComponent(<?= json_encode(DEMO_PRESENCE) ?>));
        for (const u of (await reply.json()).users || []) online.add(u);
        renderOnline();
      },
      onJoin: user => { online.add(user); renderOnline(); },
      onLeave: user => { online.delete(user); renderOnline(); },
    });
    document.getElementById('send').addEventListener('submit', async (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      form.set('channel', <?= json_encode(DEMO_CHANNEL) ?>);
      const reply = await fetch('send.php', { method: 'POST', body: form });
      if (!reply.ok) show(`error: ${(await reply.json()).error}`);
      e.target.message.value = '';
    });
  </script>
<?php endif ?>
</body>
</html>
