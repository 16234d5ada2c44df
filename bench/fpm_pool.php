<?php
// Run in php-fpm by bench/fpm.py's pool figure: broadcast() if asked, then hold this worker for a
// moment, so that requests sent together are served by different workers; answers its pid.
if (!empty($_GET['call'])) {
    broadcast('bench-pool', 'first');
}
usleep(300000);
echo getmypid();
