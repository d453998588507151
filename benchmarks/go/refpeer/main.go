// refpeer is the benchmarks' Go reference peer: a gorilla/websocket server and client for the same loads the JVM
// runner measures, so that Tether's transport and a Go client meet the same Go server in one run.
//
// Server: refpeer server [-addr 127.0.0.1:0] [-relay-secret S]
//
//	prints "listening ws://HOST:PORT" and serves
//	/echo           every message back, same type
//	/window-sink    reads binary messages; answers each with a 4-byte little-endian credit of its size
//	/window-source  takes the text request "TOTAL CHUNK WINDOW", then sends TOTAL bytes in CHUNK-byte binary
//	                messages, keeping at most WINDOW bytes not yet credited (4-byte little-endian credits)
//	/forward        ?pair=NAME joins two connections; each one's messages are written to the other (forward.go)
//	/broker         nexus broker envelopes: each request answered "<kind>.result" with in_reply_to (broker.go)
//	/mux            a wsmux server session echoing every stream the client opens (mux.go)
//	/relay          a minimal netbird relay: auth, Transport forwarding, peer state, health checks (relay.go);
//	                with -relay-secret tokens are checked against it, without any token is accepted
//	/wamp           a minimal WAMP router (wamp.2.json): RPC with a built-in bench.echo and routed calls (wamp.go)
//
// Client: refpeer client -url ws://HOST:PORT -mode pingpong|upload|download [-size N] [-window W] [-duration D]
//
//	runs one load for the duration and prints one JSON line:
//	{"mode":...,"ops":N,"bytes":B,"seconds":S,"p50_us":P,"p99_us":Q,"nvcsw":V,"nivcsw":I,"cpu_us":C}
//	nvcsw, nivcsw and cpu_us are the whole process's voluntary and involuntary context switches and CPU time
//	(user + system, every thread) over the measured time (getrusage RUSAGE_SELF, taken after the dial)
//	pingpong: one message of -size bytes in flight on /echo; ops = round trips
//	upload:   -size-byte messages to /window-sink under a -window credit window; bytes = payload bytes credited
//	download: from /window-source, -size-byte messages under a -window credit window; bytes = payload bytes read
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{ReadBufferSize: 64 * 1024, WriteBufferSize: 64 * 1024}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: refpeer server|client [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: refpeer server|client [flags]")
		os.Exit(2)
	}
}

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	relaySecret := fs.String("relay-secret", "", "secret relay tokens are signed with (empty: accept any token)")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/window-sink", windowSink)
	mux.HandleFunc("/window-source", windowSource)
	mux.HandleFunc("/forward", forward)
	mux.HandleFunc("/broker", broker)
	mux.HandleFunc("/mux", muxServer)
	mux.HandleFunc("/relay", newRelayServer("rel://"+ln.Addr().String(), *relaySecret).serve)
	mux.HandleFunc("/wamp", newWampRouter().serve)
	fmt.Printf("listening ws://%s\n", ln.Addr().String())
	os.Stdout.Sync()
	http.Serve(ln, mux)
}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(4 << 20)
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(kind, data); err != nil {
			return
		}
	}
}

func credit(n int) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(n))
	return b
}

func windowSink(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(4 << 20)
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if kind == websocket.BinaryMessage {
			if err := c.WriteMessage(websocket.BinaryMessage, credit(len(data))); err != nil {
				return
			}
		}
	}
}

func windowSource(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	_, req, err := c.ReadMessage()
	if err != nil {
		return
	}
	f := strings.Fields(string(req))
	if len(f) != 3 {
		return
	}
	total, _ := strconv.ParseInt(f[0], 10, 64)
	chunk, _ := strconv.Atoi(f[1])
	window, _ := strconv.ParseInt(f[2], 10, 64)
	credits := make(chan int64, 1024)
	go func() {
		defer close(credits)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if len(data) >= 4 {
				credits <- int64(binary.LittleEndian.Uint32(data))
			}
		}
	}()
	msg := make([]byte, chunk)
	for i := range msg {
		msg[i] = byte(i % 251)
	}
	var sent int64
	avail := window
	for total < 0 || sent < total {
		n := int64(chunk)
		if total >= 0 && total-sent < n {
			n = total - sent
		}
		for avail < n {
			cr, ok := <-credits
			if !ok {
				return
			}
			avail += cr
		}
		if err := c.WriteMessage(websocket.BinaryMessage, msg[:n]); err != nil {
			return
		}
		avail -= n
		sent += n
	}
	for range credits {
	}
}

type result struct {
	Mode    string  `json:"mode"`
	Ops     int64   `json:"ops"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	P50     float64 `json:"p50_us"`
	P99     float64 `json:"p99_us"`
	Nvcsw   int64   `json:"nvcsw"`
	Nivcsw  int64   `json:"nivcsw"`
	CPU     float64 `json:"cpu_us"`
}

// usage is the process's resource use so far (every thread).
func usage() syscall.Rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

// since records in r the context switches and CPU time the process has used since u0.
func (r *result) since(u0 syscall.Rusage) {
	u := usage()
	r.Nvcsw = int64(u.Nvcsw - u0.Nvcsw)
	r.Nivcsw = int64(u.Nivcsw - u0.Nivcsw)
	cpu := func(ru syscall.Rusage) float64 {
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1000
	}
	r.CPU = cpu(u) - cpu(u0)
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	url := fs.String("url", "", "server base URL, ws://HOST:PORT")
	mode := fs.String("mode", "pingpong", "pingpong, upload or download")
	size := fs.Int("size", 64, "message size in bytes")
	window := fs.Int64("window", 64*1024, "credit window in bytes (upload, download)")
	duration := fs.Duration("duration", 2*time.Second, "how long to run")
	fs.Parse(args)
	dialer := websocket.Dialer{ReadBufferSize: 64 * 1024, WriteBufferSize: 64 * 1024}
	var r result
	var err error
	switch *mode {
	case "pingpong":
		r, err = pingpong(dialer, *url+"/echo", *size, *duration)
	case "upload":
		r, err = upload(dialer, *url+"/window-sink", *size, *window, *duration)
	case "download":
		r, err = download(dialer, *url+"/window-source", *size, *window, *duration)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r.Mode = *mode
	json.NewEncoder(os.Stdout).Encode(r)
}

func pingpong(d websocket.Dialer, url string, size int, duration time.Duration) (result, error) {
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	msg := make([]byte, size)
	lat := make([]float64, 0, 1<<20)
	u0 := usage()
	start := time.Now()
	end := start.Add(duration)
	var ops int64
	for {
		t := time.Now()
		if !t.Before(end) {
			break
		}
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return result{}, err
		}
		if _, _, err := c.ReadMessage(); err != nil {
			return result{}, err
		}
		lat = append(lat, float64(time.Since(t).Nanoseconds())/1000)
		ops++
	}
	secs := time.Since(start).Seconds()
	r := result{Ops: ops, Bytes: ops * int64(size), Seconds: secs}
	r.since(u0)
	sort.Float64s(lat)
	if len(lat) > 0 {
		r.P50 = lat[len(lat)/2]
		r.P99 = lat[len(lat)*99/100]
	}
	return r, nil
}

func upload(d websocket.Dialer, url string, size int, window int64, duration time.Duration) (result, error) {
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	credits := make(chan int64, 1024)
	go func() {
		defer close(credits)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if len(data) >= 4 {
				credits <- int64(binary.LittleEndian.Uint32(data))
			}
		}
	}()
	msg := make([]byte, size)
	u0 := usage()
	start := time.Now()
	end := start.Add(duration)
	avail := window
	var acked, ops int64
	for time.Now().Before(end) {
		for avail < int64(size) {
			cr, ok := <-credits
			if !ok {
				return result{}, fmt.Errorf("connection ended")
			}
			avail += cr
			acked += cr
		}
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return result{}, err
		}
		avail -= int64(size)
		ops++
	}
	// Count what the sink credited within the run.
	for avail < window {
		select {
		case cr, ok := <-credits:
			if !ok {
				avail = window
				break
			}
			avail += cr
			acked += cr
		case <-time.After(2 * time.Second):
			avail = window
		}
	}
	r := result{Ops: ops, Bytes: acked, Seconds: time.Since(start).Seconds()}
	r.since(u0)
	return r, nil
}

func download(d websocket.Dialer, url string, size int, window int64, duration time.Duration) (result, error) {
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("-1 %d %d", size, window))); err != nil {
		return result{}, err
	}
	u0 := usage()
	start := time.Now()
	end := start.Add(duration)
	var bytes, ops int64
	for time.Now().Before(end) {
		_, data, err := c.ReadMessage()
		if err != nil {
			return result{}, err
		}
		bytes += int64(len(data))
		ops++
		if err := c.WriteMessage(websocket.BinaryMessage, credit(len(data))); err != nil {
			return result{}, err
		}
	}
	r := result{Ops: ops, Bytes: bytes, Seconds: time.Since(start).Seconds()}
	r.since(u0)
	return r, nil
}
