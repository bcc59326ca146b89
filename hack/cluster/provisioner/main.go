// Command provisioner is the local test cluster's dynamic volume provisioner: it binds every
// pending PVC of its StorageClasses to a new hostPath PV under a base directory, and removes the
// PV and its directory once the claim is released. It stands in for a CSI driver:
//   - a class with volumeBindingMode WaitForFirstConsumer gets node-local volumes, as
//     local-path-provisioner or a zonal cloud disk gives: the PVC is provisioned once the scheduler
//     has picked a node for its first pod (the PVC's selected-node annotation), and the PV's
//     nodeAffinity binds it to that node for good, so that a pod using it can run nowhere else;
//   - a class with Immediate binding gets volumes any node mounts, as a network filesystem's.
//
// Every node of the local cluster shares the host's filesystem, so the node binding is enforced
// by the PV's nodeAffinity (the scheduler), not by where the directory is.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	provisionedBy = "pv.kubernetes.io/provisioned-by"
	// selectedNode is set on a PVC of a WaitForFirstConsumer class by the scheduler.
	selectedNode = "volume.kubernetes.io/selected-node"
)

type provisioner struct {
	client  kubernetes.Interface
	name    string
	baseDir string
}

// class is what the provisioner needs of one of its StorageClasses.
type class struct {
	reclaimPolicy string
	nodeLocal     bool
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	name := flag.String("provisioner-name", "kubectl-pgo.local/hostpath", "provisioner name in the StorageClass")
	baseDir := flag.String("base-dir", "/var/lib/kubectl-pgo-cluster/volumes", "directory holding the volumes")
	interval := flag.Duration("interval", time.Second, "how often to reconcile")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("loading kubeconfig: %v", err)
	}
	p := &provisioner{client: kubernetes.NewForConfigOrDie(cfg), name: *name, baseDir: *baseDir}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("provisioning %s volumes under %s", p.name, p.baseDir)
	// Polling keeps this small; a test cluster has few claims.
	for ctx.Err() == nil {
		if err := p.reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Printf("reconcile: %v", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
	}
}

func (p *provisioner) reconcile(ctx context.Context) error {
	classes, err := p.client.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ours := map[string]class{}
	for _, sc := range classes.Items {
		if sc.Provisioner == p.name {
			c := class{reclaimPolicy: string(corev1.PersistentVolumeReclaimDelete)}
			if sc.ReclaimPolicy != nil {
				c.reclaimPolicy = string(*sc.ReclaimPolicy)
			}
			c.nodeLocal = sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
			ours[sc.Name] = c
		}
	}
	claims, err := p.client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" || pvc.Spec.StorageClassName == nil {
			continue
		}
		c, ok := ours[*pvc.Spec.StorageClassName]
		if !ok {
			continue
		}
		node := ""
		if c.nodeLocal {
			if node = pvc.Annotations[selectedNode]; node == "" {
				continue // no pod has been scheduled with it yet
			}
		}
		if err := p.provision(ctx, pvc, c.reclaimPolicy, node); err != nil {
			log.Printf("provision %s/%s: %v", pvc.Namespace, pvc.Name, err)
		}
	}
	volumes, err := p.client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range volumes.Items {
		pv := &volumes.Items[i]
		if pv.Annotations[provisionedBy] != p.name || pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			continue
		}
		if err := p.remove(ctx, pv); err != nil {
			log.Printf("delete %s: %v", pv.Name, err)
		}
	}
	return nil
}

// provision makes the PV of pvc; node, when not empty, is the only node that may mount it.
func (p *provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim, policy, node string) error {
	name := "pvc-" + string(pvc.UID)
	dir := filepath.Join(p.baseDir, name)
	if node != "" {
		dir = filepath.Join(p.baseDir, node, name)
	}
	// World-writable like local-path-provisioner: pods run as arbitrary non-root users and
	// hostPath volumes get no fsGroup ownership change.
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	hostPathType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{provisionedBy: p.name}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimPolicy(policy),
			StorageClassName:              *pvc.Spec.StorageClassName,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPathType},
			},
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	_, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err == nil {
		log.Printf("provisioned %s for %s/%s at %s (node %q)", name, pvc.Namespace, pvc.Name, dir, node)
	}
	return err
}

func (p *provisioner) remove(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath == nil {
		return nil
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	if !strings.HasPrefix(dir, filepath.Clean(p.baseDir)+string(filepath.Separator)) {
		return fmt.Errorf("refusing to remove %s: outside %s", dir, p.baseDir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		log.Printf("deleted %s and %s", pv.Name, dir)
	}
	return err
}
