module github.com/baram-mqtt/baram

go 1.26.8
