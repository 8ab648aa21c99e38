//go:build linux

package clustertest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
)

// Capture records the TCP payload of the packets that cross one network
// interface to or from one port, through a packet socket (AF_PACKET).
type Capture struct {
	fd   int
	port uint16

	mu  sync.Mutex
	buf bytes.Buffer

	stop chan struct{}
	done chan struct{}
}

// StartCapture starts recording on the interface named ifName. It skips
// the test without root, which packet sockets need. Stop ends it; the test's
// cleanup stops it too.
func StartCapture(t testing.TB, ifName string, port int) *Capture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a packet capture needs root")
	}
	ifi, err := net.InterfaceByName(ifName)
	if err != nil {
		t.Fatalf("capture: interface %s: %v", ifName, err)
	}
	proto := htons(syscall.ETH_P_ALL)
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(proto))
	if err != nil {
		t.Fatalf("capture: open packet socket: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		t.Fatalf("capture: bind to %s: %v", ifName, err)
	}
	// A receive timeout lets the reader notice Stop.
	tv := syscall.Timeval{Usec: 100_000}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		t.Fatalf("capture: set receive timeout: %v", err)
	}
	c := &Capture{fd: fd, port: uint16(port), stop: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.Stop)
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Capture) read() {
	defer close(c.done)
	defer syscall.Close(c.fd)
	frame := make([]byte, 1<<17)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, _, err := syscall.Recvfrom(c.fd, frame, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		if payload := c.tcpPayload(frame[:n]); len(payload) > 0 {
			c.mu.Lock()
			c.buf.Write(payload)
			c.mu.Unlock()
		}
	}
}

// tcpPayload returns the TCP payload of an Ethernet frame with an IPv4
// packet to or from c.port, or nil.
func (c *Capture) tcpPayload(frame []byte) []byte {
	const ethHeader = 14
	if len(frame) < ethHeader+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return nil
	}
	ip := frame[ethHeader:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ip[9] != syscall.IPPROTO_TCP || ihl < 20 || total > len(ip) || total < ihl+20 {
		return nil
	}
	tcp := ip[ihl:total]
	src, dst := binary.BigEndian.Uint16(tcp[0:2]), binary.BigEndian.Uint16(tcp[2:4])
	if src != c.port && dst != c.port {
		return nil
	}
	offset := int(tcp[12]>>4) * 4
	if offset < 20 || offset > len(tcp) {
		return nil
	}
	return tcp[offset:]
}

// Stop ends the capture and waits for its reader. It is safe to call more
// than once.
func (c *Capture) Stop() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// Bytes returns a copy of the payload recorded so far.
func (c *Capture) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}
