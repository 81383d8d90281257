package core

import (
	"context"
	"errors"
	"testing"
)

// A Docker that does not answer gets one remedy from doctor, whether the docker check or
// the engine check found it.
func TestDoctorSaysOneFixForADockerThatDoesNotAnswer(t *testing.T) {
	fixOf := func(w *world, check string) string {
		for _, f := range w.at(w.repo).Doctor(context.Background()).Findings {
			if f.Check == check {
				if f.OK {
					t.Fatalf("%s passed: %+v", check, f)
				}
				return f.Fix.Text
			}
		}
		t.Fatalf("no %s finding", check)
		return ""
	}
	w := newWorld(t)
	w.docker.versionErr = errors.New("the Docker daemon does not answer")
	docker := fixOf(w, "docker")

	w = newWorld(t)
	e := w.at(w.repo)
	e.Docker = engineless{w.docker}
	var engine string
	for _, f := range e.Doctor(context.Background()).Findings {
		if f.Check == "engine" {
			engine = f.Fix.Text
		}
	}
	if docker == "" || docker != engine {
		t.Errorf("two remedies for one Docker that does not answer:\n docker: %q\n engine: %q", docker, engine)
	}
}
