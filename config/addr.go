package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// defaultGossipPort is the port a seed or advertise address gets when it is
// given as a host alone.
const defaultGossipPort = 7946

// checkListenAddr checks a host:port to listen on. The host may be empty,
// meaning all interfaces, and port 0 picks a free port.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port such as \"0.0.0.0:7946\": %w", err)
	}
	if host != "" {
		if err := checkHost(host); err != nil {
			return err
		}
	}
	_, err = parsePort(port, 0)
	return err
}

// normalizePeerAddr checks the address of another node, host:port or a
// host alone, and returns it as host:port with defaultPort added when the
// port is missing. The host must not be empty and the port not 0.
func normalizePeerAddr(addr string, defaultPort int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = hostAlone(addr)
		if host == "" {
			return "", fmt.Errorf("must be host:port such as \"10.0.0.5:7946\": %w", err)
		}
	}
	if host == "" {
		return "", errors.New("must name a host: an empty host means all interfaces, which only a listen address may use")
	}
	if err := checkHost(host); err != nil {
		return "", err
	}
	if port == "" {
		port = strconv.Itoa(defaultPort)
	}
	if _, err := parsePort(port, 1); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// hostAlone returns addr as a host with an empty port when addr is a host
// without a port: a name, an IPv4 address, or an IPv6 address with or
// without brackets. It returns "" when addr is something else.
func hostAlone(addr string) (host, port string) {
	unbracketed := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if _, err := netip.ParseAddr(unbracketed); err == nil {
		return unbracketed, ""
	}
	if !strings.ContainsAny(addr, ":[]") && checkHost(addr) == nil {
		return addr, ""
	}
	return "", ""
}

func parsePort(port string, minPort int) (int, error) {
	n, err := strconv.Atoi(port)
	if err != nil || n < minPort || n > 65535 {
		return 0, fmt.Errorf("port %q must be a number from %d to 65535", port, minPort)
	}
	return n, nil
}

// checkHost accepts an IP address, with an optional IPv6 zone, or a DNS
// name.
func checkHost(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if isDNSName(host) {
		return nil
	}
	return fmt.Errorf("host %q must be an IP address or a DNS name", host)
}

// isDNSName reports whether name is a syntactically valid DNS name: labels
// of 1 to 63 letters, digits, hyphens or underscores, not starting or
// ending with a hyphen, 253 characters at most, an optional final dot. A
// name whose labels are all digits looks like a broken IPv4 address and is
// rejected.
func isDNSName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	allDigits := true
	for label := range strings.SplitSeq(name, ".") {
		if !isDNSLabel(label) {
			return false
		}
		if strings.Trim(label, "0123456789") != "" {
			allDigits = false
		}
	}
	return !allDigits
}

func isDNSLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, r := range label {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// addrHost returns the host of a host:port that already passed a check.
func addrHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}
