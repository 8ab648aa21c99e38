package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// uiFiles is the status page: HTML, CSS and JavaScript with no external
// reference, so that it works without internet access.
//
//go:embed ui/index.html ui/style.css ui/app.js
var uiFiles embed.FS

// uiHandler serves the status page at / and its assets under /ui/.
func uiHandler() (index, assets http.Handler) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic("api: embedded status page missing: " + err.Error())
	}
	static := http.FileServerFS(sub)
	index = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		http.ServeFileFS(w, r, sub, "index.html")
	})
	assets = http.StripPrefix("/ui", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		static.ServeHTTP(w, r)
	}))
	return index, assets
}

// setPageHeaders keeps the page from loading anything that is not its own
// and from being framed by another site.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
}
