package docker_test

import (
	"fmt"
	"net"
	"strconv"
)

type netTCPAddr = net.TCPAddr

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func itoa(i int) string { return strconv.Itoa(i) }

func fmtS(f string, a ...any) string { return fmt.Sprintf(f, a...) }
