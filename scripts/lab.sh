#!/usr/bin/env bash
# A throwaway OTA "lab" on loopback: a private CA, a mosquitto broker (TLS + password file + ACL)
# and an nginx HTTPS file server with Range support, all on random free 127.0.0.1 ports and all
# state kept in one directory. Used by the integration tests, the demo and the benchmark.
#
#   lab.sh start DIR                  generate certs, start broker + web server, write DIR/lab.env
#   lab.sh add-device DIR PK DN DS    let a device log in with its Aliyun-signed credentials
#   lab.sh add-devices DIR PASSWD ACL append many devices at once: a mosquitto password file and
#                                     an ACL file as `ota_fleet users` writes them, one SIGHUP
#   lab.sh stop-broker DIR | start-broker DIR | restart-broker DIR
#   lab.sh stop DIR                   stop everything started by `start` (idempotent)
#
# DIR/lab.env (shell syntax) holds: LAB_DIR MQTT_TLS_PORT MQTT_TCP_PORT HTTPS_PORT HTTP_PORT
# CA_FILE WWW_DIR CLOUD_USER CLOUD_PASSWORD. Files put in WWW_DIR are served at
# https://127.0.0.1:$HTTPS_PORT/<name> (and plain http on HTTP_PORT); /status/404 and /status/500
# answer with those codes; over https, /norange/<name> ignores Range and /slow/<name> is limited
# to 2 MiB/s per connection. nginx's access log (DIR/nginx-access.log) records each request's Range.
#
# Fleets (ota_fleet, bench/fleet_bench.sh): the broker and the web server are started with the
# open-file limit raised to the hard limit (each connection is one descriptor in each of them), and
# nginx accepts LAB_NGINX_CONNECTIONS (default 16384) concurrent connections. Set LAB_ACCESS_LOG=off
# before `start` to leave nginx's access log off (a fleet of 1,000 downloads writes 1,000 lines a
# run; the integration tests read the log, so it is on by default).
set -euo pipefail

die() { echo "lab.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: lab.sh start|stop|add-device|add-devices|stop-broker|start-broker|restart-broker DIR [...]"
cmd=$1
dir=$2
shift 2

# A port nobody listens on right now. Bounded: 200 tries. Drawn from 20000-32767, below Linux's
# ephemeral range (32768-60999 by default): a port there can be taken at any moment as the local
# end of some outgoing connection, which the connect probe cannot see, and bind() then fails with
# "Address already in use".
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12768))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      if ! grep -qw "$p" "$dir/.ports" 2>/dev/null; then
        echo "$p" >>"$dir/.ports"
        echo "$p"
        return 0
      fi
    fi
  done
  die "no free port found"
}

# Waits until 127.0.0.1:$1 accepts connections (at most ~10 s).
wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# HMAC password of an Aliyun device (PROTOCOL.md section 1, hmacsha256, upper-case hex).
device_password() {
  local pk=$1 dn=$2 ds=$3
  printf 'clientId%s.%sdeviceName%sproductKey%stimestamp2524608000000' "$pk" "$dn" "$dn" "$pk" |
    openssl dgst -sha256 -hmac "$ds" -r | cut -d' ' -f1 | tr 'a-f' 'A-F'
}

make_pki() {
  local pki=$dir/pki
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=OTA lab test CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$pki/server.ext"
  openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/server.ext" -out "$pki/server.pem" 2>/dev/null
  # A second, unrelated CA: tests use it to prove that verification really happens.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=OTA lab unrelated CA" -keyout "$pki/other-ca.key" -out "$pki/other-ca.pem" 2>/dev/null
  chmod 644 "$pki"/*.pem "$pki"/*.key
}

write_mosquitto_conf() {
  # shellcheck disable=SC1091
  . "$dir/lab.env"
  local run_as=""
  [ "$(id -u)" -eq 0 ] && run_as="user root"
  cat >"$dir/mosquitto.conf" <<EOF
$run_as
per_listener_settings false
allow_anonymous false
password_file $dir/mosquitto.passwd
acl_file $dir/mosquitto.acl
persistence false
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
connection_messages true
max_keepalive 600
# mosquitto drops QoS 1 messages for a client once 1000 wait for it (its default): a burst of
# 10,000 pushes (push_flood_test.cpp) would lose the last one in the broker, before the device.
max_queued_messages 20000
# MQTT downloads (PROTOCOL.md 5b) send each block as one message (a 32 KiB block is about 33 KB
# with its header and CRC). mosquitto's default (message_size_limit 0, max_packet_size unset: up
# to MQTT's 256 MiB) lets them through, so nothing is set here; a broker with a limit (mosquitto's
# message_size_limit or max_packet_size, RabbitMQ's max_message_size) must allow the device's
# block size plus about 300 bytes.
# With Nagle's algorithm (mosquitto's default) a block reply's last TCP segment can wait for the
# device's delayed ACK: MQTT downloads measured 18-25 MiB/s without this, 36 with it.
set_tcp_nodelay true

listener $MQTT_TLS_PORT 127.0.0.1
cafile $CA_FILE
certfile $dir/pki/server.pem
keyfile $dir/pki/server.key

listener $MQTT_TCP_PORT 127.0.0.1
EOF
}

# Raises this shell's (and so its children's) open-file limit to the hard limit: mosquitto and
# nginx hold one descriptor per connection. Failing to raise it is not an error (the default
# limit still serves the tests).
raise_fd_limit() { ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }

start_broker() {
  # shellcheck disable=SC1091
  . "$dir/lab.env"
  local attempt pid i
  raise_fd_limit
  # A restart can find its port still held for a moment (the old broker's socket, or a
  # connection's local end on a loaded machine): mosquitto then exits at once with "Address
  # already in use". Bounded: 10 attempts half a second apart.
  for ((attempt = 0; attempt < 10; attempt++)); do
    mosquitto -c "$dir/mosquitto.conf" >>"$dir/mosquitto.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/mosquitto.pid"
    # Listening on both ports (at most ~10 s), unless it exited.
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      if (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_TLS_PORT") 2>/dev/null &&
        (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_TCP_PORT") 2>/dev/null; then
        return 0
      fi
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && break  # running but not listening: a real failure
    sleep 0.5
  done
  cat "$dir/mosquitto.log" "$dir/mosquitto.out" >&2 2>/dev/null
  die "mosquitto did not start"
}

stop_pidfile() {
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null) || return 0
  if kill "$pid" 2>/dev/null; then
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -9 "$pid" 2>/dev/null; then
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$f"
}

stop_broker() { stop_pidfile "$dir/mosquitto.pid"; }

start_web() {
  # shellcheck disable=SC1091
  . "$dir/lab.env"
  local run_as="" conns=${LAB_NGINX_CONNECTIONS:-16384} access_log="$dir/nginx-access.log ota"
  [ "$(id -u)" -eq 0 ] && run_as="user root;"
  [ "${LAB_ACCESS_LOG:-on}" = off ] && access_log=off
  raise_fd_limit
  # nginx's workers cannot go past the hard limit either (setrlimit fails with an alert).
  local nofile=$((2 * conns + 64)) hard
  hard=$(ulimit -Hn)
  [ "$hard" != unlimited ] && [ "$nofile" -gt "$hard" ] && nofile=$hard
  [ "$conns" -gt "$nofile" ] && conns=$nofile
  mkdir -p "$dir/nginx-tmp"
  cat >"$dir/nginx.conf" <<EOF
$run_as
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
# A fleet downloads over 1,000+ connections at once: each is one descriptor (twice that leaves
# room for files being sent), and the listen backlog takes a burst of connects.
worker_rlimit_nofile $nofile;
events { worker_connections $conns; }
http {
  default_type application/octet-stream;
  log_format ota '\$remote_addr "\$request" \$status \$body_bytes_sent range="\$http_range"';
  access_log $access_log;
  client_body_temp_path $dir/nginx-tmp/body;
  proxy_temp_path $dir/nginx-tmp/proxy;
  fastcgi_temp_path $dir/nginx-tmp/fastcgi;
  uwsgi_temp_path $dir/nginx-tmp/uwsgi;
  scgi_temp_path $dir/nginx-tmp/scgi;
  sendfile on;
  gzip off;
  keepalive_timeout 30;
  # Signed firmware URLs carry long query strings; the 8k default answers them with 414.
  large_client_header_buffers 4 32k;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl backlog=4096;
    ssl_certificate $dir/pki/server.pem;
    ssl_certificate_key $dir/pki/server.key;
    root $WWW_DIR;
    location = /status/404 { return 404; }
    location = /status/500 { return 500; }
    # Fault tests: the same files with Range support off (200 to every Range request) and
    # rate-limited per connection (so that events land mid-download).
    location /norange/ { alias $WWW_DIR/; max_ranges 0; }
    location /slow/ { alias $WWW_DIR/; limit_rate 2m; }
    # Permanent-error tests: an https URL that redirects to plain http.
    location = /redirect/to-http { return 302 http://127.0.0.1:$HTTP_PORT/redirect/target.bin; }
  }
  server {
    listen 127.0.0.1:$HTTP_PORT;
    root $WWW_DIR;
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon on;' 2>>"$dir/nginx-error.log" ||
    { cat "$dir/nginx-error.log" >&2; die "nginx did not start"; }
  wait_port "$HTTPS_PORT" && wait_port "$HTTP_PORT" || die "nginx is not listening"
}

case "$cmd" in
  start)
    for tool in openssl mosquitto mosquitto_passwd nginx; do
      command -v "$tool" >/dev/null || die "$tool is missing (run scripts/deps.sh)"
    done
    # A directory left by an earlier run is stopped and reused; anything else must be empty.
    if [ -f "$dir/lab.env" ]; then
      "$0" stop "$dir"
      rm -rf "${dir:?}/pki" "${dir:?}/www" "${dir:?}/nginx-tmp" "$dir"/*.log "$dir"/*.conf "$dir"/*.out
    elif [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
      die "$dir is not empty and holds no lab"
    fi
    mkdir -p "$dir/www"
    dir=$(cd "$dir" && pwd)
    : >"$dir/.ports"
    make_pki
    cloud_password=$(openssl rand -hex 16)
    cat >"$dir/lab.env" <<EOF
LAB_DIR=$dir
MQTT_TLS_PORT=$(free_port)
MQTT_TCP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
HTTP_PORT=$(free_port)
CA_FILE=$dir/pki/ca.pem
OTHER_CA_FILE=$dir/pki/other-ca.pem
WWW_DIR=$dir/www
CLOUD_USER=ota-cloud
CLOUD_PASSWORD=$cloud_password
EOF
    : >"$dir/mosquitto.passwd"
    chmod 600 "$dir/mosquitto.passwd"
    mosquitto_passwd -b "$dir/mosquitto.passwd" ota-cloud "$cloud_password"
    # The cloud side may use every topic; each device only its own (added by add-device).
    printf 'user ota-cloud\ntopic readwrite #\n' >"$dir/mosquitto.acl"
    write_mosquitto_conf
    start_broker
    start_web
    echo "$dir/lab.env"
    ;;
  add-device)
    [ $# -eq 3 ] || die "usage: lab.sh add-device DIR PK DN DS"
    pk=$1 dn=$2 ds=$3
    # Tests run in parallel (ctest -j) against one lab: mosquitto_passwd rewrites the whole file,
    # so two concurrent add-device calls would lose one of the devices. Serialise them.
    exec 9>"$dir/.add-device.lock"
    flock -w 30 9 || die "add-device: lock $dir/.add-device.lock is held too long"
    password=$(device_password "$pk" "$dn" "$ds")
    # mosquitto_passwd truncates the file it edits and writes it back, and mosquitto's reload
    # (SIGHUP) disconnects every client missing from the password file it reads: a reload that
    # overlapped such a rewrite (another test's add-device, whose SIGHUP is still being handled)
    # dropped connected clients. So both files are edited as copies and renamed into place.
    passwd_new=$(mktemp "$dir/.passwd.XXXXXX")
    acl_new=$(mktemp "$dir/.acl.XXXXXX")
    cp -p "$dir/mosquitto.passwd" "$passwd_new"
    cp -p "$dir/mosquitto.acl" "$acl_new"
    mosquitto_passwd -b "$passwd_new" "$dn&$pk" "$password"
    cat >>"$acl_new" <<EOF

user $dn&$pk
topic write /ota/device/inform/$pk/$dn
topic write /ota/device/progress/$pk/$dn
topic read /ota/device/upgrade/$pk/$dn
topic write /sys/$pk/$dn/thing/ota/firmware/get
topic read /sys/$pk/$dn/thing/ota/firmware/get_reply
topic write /sys/$pk/$dn/thing/file/download
topic read /sys/$pk/$dn/thing/file/download_reply
EOF
    mv -f "$passwd_new" "$dir/mosquitto.passwd"
    mv -f "$acl_new" "$dir/mosquitto.acl"
    # mosquitto re-reads its password and ACL files on SIGHUP, a moment later: wait until the
    # device can log in (a probe that subscribes to the device's push topic and exits), so that
    # the caller's device does not race the reload. Bounded: about 10 s.
    if [ -f "$dir/mosquitto.pid" ] && kill -HUP "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
      # shellcheck disable=SC1091
      . "$dir/lab.env"
      for ((i = 0; i < 100; i++)); do
        if mosquitto_sub -h 127.0.0.1 -p "$MQTT_TCP_PORT" -i "lab-probe-$$-$i" -u "$dn&$pk" \
          -P "$password" -t "/ota/device/upgrade/$pk/$dn" -E -W 2 >/dev/null 2>&1; then
          break
        fi
        sleep 0.1
      done
    fi
    ;;
  add-devices)
    [ $# -eq 2 ] || die "usage: lab.sh add-devices DIR PASSWD ACL"
    passwd=$1 acl=$2
    [ -r "$passwd" ] && [ -r "$acl" ] || die "add-devices: cannot read $passwd or $acl"
    # Lines are appended as they are (user:$7$... hashes and `user`/`topic` blocks, as
    # `ota_fleet users` writes them); one SIGHUP makes mosquitto read both files again.
    exec 9>"$dir/.add-device.lock"
    flock -w 30 9 || die "add-devices: lock $dir/.add-device.lock is held too long"
    # Edited as copies and renamed into place, as add-device does (a reload never reads a
    # half-written file).
    passwd_new=$(mktemp "$dir/.passwd.XXXXXX")
    acl_new=$(mktemp "$dir/.acl.XXXXXX")
    cp -p "$dir/mosquitto.passwd" "$passwd_new"
    cp -p "$dir/mosquitto.acl" "$acl_new"
    cat "$passwd" >>"$passwd_new"
    { echo; cat "$acl"; } >>"$acl_new"
    mv -f "$passwd_new" "$dir/mosquitto.passwd"
    mv -f "$acl_new" "$dir/mosquitto.acl"
    if [ -f "$dir/mosquitto.pid" ]; then
      kill -HUP "$(cat "$dir/mosquitto.pid")"
      # Reading thousands of PBKDF2 lines takes mosquitto a moment; it checks a password only
      # when a client connects, so a short pause is enough.
      sleep 0.5
    fi
    ;;
  stop-broker) stop_broker ;;
  start-broker) start_broker ;;
  restart-broker) stop_broker; start_broker ;;
  stop)
    stop_broker
    # SIGTERM is nginx's fast shutdown; stop_pidfile waits for the master to exit.
    stop_pidfile "$dir/nginx.pid"
    ;;
  *) die "unknown command $cmd" ;;
esac
