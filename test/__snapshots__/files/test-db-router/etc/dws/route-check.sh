#!/bin/sh
# Rendered by cdktf-distributed-web-stack: is this node routed for this backend?
[ -r "/run/dws-route/$HAPROXY_PROXY_NAME" ] || exit 1
while read -r node; do
  [ "$node" = "$HAPROXY_SERVER_NAME" ] && exit 0
done < "/run/dws-route/$HAPROXY_PROXY_NAME"
exit 1
