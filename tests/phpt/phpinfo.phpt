--TEST--
phpinfo() has a pybroadcast section with the version, the embedded Python and the settings
--EXTENSIONS--
pybroadcast
--FILE--
<?php
ob_start();
phpinfo(INFO_MODULES);
$info = ob_get_clean();
foreach (['pybroadcast support => enabled', 'Version => 0.1.0', 'Embedded Python => 3.',
          'Python interpreter => not started', 'pybroadcast.socket => no value',
          'pybroadcast.driver => no value', 'pybroadcast.max_message_size => no value',
          'pybroadcast.pusher_secret => no value => no value', 'pybroadcast.redis_url => no value => no value',
          'pybroadcast.python => /', 'pybroadcast.hub_path => /', 'pybroadcast.core => /'] as $line) {
    echo $line, ': ', str_contains($info, $line) ? 'yes' : 'NO', "\n";
}
var_dump(phpversion('pybroadcast'));
?>
--EXPECT--
pybroadcast support => enabled: yes
Version => 0.1.0: yes
Embedded Python => 3.: yes
Python interpreter => not started: yes
pybroadcast.socket => no value: yes
pybroadcast.driver => no value: yes
pybroadcast.max_message_size => no value: yes
pybroadcast.pusher_secret => no value => no value: yes
pybroadcast.redis_url => no value => no value: yes
pybroadcast.python => /: yes
pybroadcast.hub_path => /: yes
pybroadcast.core => /: yes
string(5) "0.1.0"
