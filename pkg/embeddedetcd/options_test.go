package embeddedetcd

import (
	"context"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Options) {}},
		{name: "no data dir", mutate: func(o *Options) { o.DataDir = "" }, wantErr: "data directory is required"},
		{name: "plain http off loopback", mutate: func(o *Options) { o.ListenClientURLs = []string{"http://10.1.2.3:2379"} }, wantErr: "non-loopback"},
		{name: "plain http on localhost", mutate: func(o *Options) { o.ListenClientURLs = []string{"http://localhost:2379"} }},
		{name: "https anywhere", mutate: func(o *Options) { o.ListenClientURLs = []string{"https://0.0.0.0:2379"} }},
		{name: "bad scheme", mutate: func(o *Options) { o.ListenPeerURLs = []string{"ftp://127.0.0.1:1"} }, wantErr: "scheme"},
		{name: "negative quota", mutate: func(o *Options) { o.QuotaBackendBytes = -1 }, wantErr: "quota"},
		{name: "bad periodic retention", mutate: func(o *Options) { o.AutoCompactionRetention = "often" }, wantErr: "not a duration"},
		{name: "revision retention", mutate: func(o *Options) { o.AutoCompactionMode = "revision"; o.AutoCompactionRetention = "1000" }},
		{name: "bad revision retention", mutate: func(o *Options) { o.AutoCompactionMode = "revision"; o.AutoCompactionRetention = "5m" }, wantErr: "revision count"},
		{name: "bad mode", mutate: func(o *Options) { o.AutoCompactionMode = "never" }, wantErr: "periodic or revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions(t.TempDir())
			tt.mutate(o)
			errs := o.Validate()
			if tt.wantErr == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr) {
				t.Fatalf("want one error containing %q, got %v", tt.wantErr, errs)
			}
		})
	}
}

func TestStartServesAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	start := func() *Server {
		o := NewOptions(dir)
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if errs := o.Validate(); len(errs) > 0 {
			t.Fatal(errs)
		}
		cfg, err := o.Config()
		if err != nil {
			t.Fatal(err)
		}
		s, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	client, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Put(context.Background(), "/k", "v"); err != nil {
		t.Fatal(err)
	}
	client.Close()
	s.Close()

	// A restart on new ports finds the data.
	s = start()
	defer s.Close()
	client, err = clientv3.New(clientv3.Config{Endpoints: s.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resp, err := client.Get(context.Background(), "/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("data lost across restart: %v", resp.Kvs)
	}
}
