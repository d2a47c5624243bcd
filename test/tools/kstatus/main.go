// Command kstatus reads Kubernetes objects (a JSON array) on stdin and prints, for each, the status that
// sigs.k8s.io/cli-utils' kstatus computes (the library Flux and `kubectl wait`-style tools use).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	kjson "k8s.io/apimachinery/pkg/util/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	// k8s.io/apimachinery's json turns integral numbers into int64, as unstructured accessors expect.
	var objs []map[string]interface{}
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = kjson.Unmarshal(data, &objs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: reading a JSON array of objects from stdin:", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(objs))
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o}
		r, err := status.Compute(u)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kstatus:", u.GetName(), err)
			os.Exit(1)
		}
		out = append(out, result{Name: u.GetName(), Status: r.Status.String(), Message: r.Message})
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
