module github.com/cdktf-distributed-web-stack/db-backup

go 1.22
