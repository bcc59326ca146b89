// Command serve starts the S3 server of the end-to-end tests (SeaweedFS over TLS, reached by
// the cluster's pods as a Service name) for a script outside the tests: hack/bench.sh. It makes
// the buckets asked for, writes what a client needs (endpoint, region, keys, CA) as JSON, and
// runs until it gets SIGINT or SIGTERM, then stops the server and deletes its namespace.
//
//	KPGO_WEED=$WEED_BIN go run ./hack/s3/serve -kubeconfig K -out FILE -bucket NAME
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "the cluster whose pods use the server")
	out := flag.String("out", "", "file to write the server's endpoint, keys and CA to (JSON); written once it is ready")
	bucket := flag.String("bucket", "", "bucket to create")
	flag.IntVar(&framework.S3VolumeMax, "volume-max", framework.S3VolumeMax, "volumes of 64 MB the server may make (sparse files)")
	flag.Parse()
	if *out == "" || *kubeconfig == "" || *bucket == "" {
		fmt.Fprintln(os.Stderr, "serve: -out, -bucket and -kubeconfig (or KUBECONFIG) are required")
		os.Exit(2)
	}
	if err := serve(*kubeconfig, *out, *bucket); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func serve(kubeconfig, out, bucket string) error {
	env, err := framework.Connect(kubeconfig)
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	s, err := env.StartS3()
	if err != nil {
		return err
	}
	defer s.Stop()
	if err := s.MakeBucket(bucket); err != nil {
		return err
	}
	data, err := json.Marshal(map[string]string{
		"endpoint": s.Endpoint, "region": s.Region, "accessKey": s.AccessKey, "secretKey": s.SecretKey,
		"ca": string(s.CACert), "bucket": bucket,
	})
	if err != nil {
		return err
	}
	// Written whole, then renamed: the reader waits for the file to exist.
	if err := os.WriteFile(out+".tmp", data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return err
	}
	<-stop
	return nil
}
