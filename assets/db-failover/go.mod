module github.com/cdktf-distributed-web-stack/db-failover

go 1.22
