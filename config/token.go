package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// minAPIToken is the shortest API token accepted; lbd keygen prints 44
// characters.
const minAPIToken = 16

// maxTokenFileBytes bounds the API token file.
const maxTokenFileBytes = 4 << 10

// CheckAPIToken checks an API token: at least 16 characters, none of them
// a space or a control character, because the token travels in an HTTP
// header. Errors give the length, never the token.
func CheckAPIToken(token string) error {
	if len(token) < minAPIToken {
		return fmt.Errorf("API token is %d characters long; it must be at least %d: generate one with lbd keygen", len(token), minAPIToken)
	}
	for _, r := range token {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII {
			return errors.New("API token contains a space, a control character or a non-ASCII character: use printable ASCII, such as the output of lbd keygen")
		}
	}
	return nil
}

// checkAPIToken is the check of the api_token setting; "" means no token.
func checkAPIToken(v any) (any, error) {
	token := strings.TrimSpace(v.(string))
	if token == "" {
		return "", nil
	}
	if err := CheckAPIToken(token); err != nil {
		return nil, err
	}
	return token, nil
}

// finishAPIToken fills APIToken from api_token_file, which excludes
// api_token.
func (l *loader) finishAPIToken() {
	c := l.cfg
	if c.APITokenFile == "" {
		return
	}
	o := l.origins["api_token_file"]
	if c.APIToken != "" {
		l.add(o.problem("api_token and api_token_file are both set: keep one of them", nil))
		return
	}
	data, err := readLimited(c.APITokenFile, maxTokenFileBytes, "api_token_file")
	if err != nil {
		l.add(o.problem(err.Error(), err))
		return
	}
	token := strings.TrimSpace(string(data))
	if err := CheckAPIToken(token); err != nil {
		l.add(o.problem(fmt.Sprintf("api_token_file %s: %v", c.APITokenFile, err), err))
		return
	}
	c.APIToken = token
}
