package config

import "slices"

// WithService returns a copy of the stack in which svc replaces the service of the same
// name, or is added after the others. svc gets the defaults and the implied dependencies that
// Load gives a service, and the whole stack is validated with it: an invalid result is an
// *Error with every problem. Neither s nor svc is changed. The services already in the stack
// keep what Load gave them, such as the default condition of a dependency on svc.
func (s *Stack) WithService(svc Service) (*Stack, error) {
	add := svc.clone()
	n := *s
	n.Warnings = nil
	n.Services = slices.Clone(s.Services)
	if i := slices.IndexFunc(n.Services, func(x *Service) bool { return x.Name == add.Name }); i >= 0 {
		n.Services[i] = add
	} else {
		n.Services = append(n.Services, add)
	}
	n.byName = make(map[string]*Service, len(n.Services))
	for _, x := range n.Services {
		if n.byName[x.Name] == nil {
			n.byName[x.Name] = x
		}
	}
	n.normalizeService(add)
	c := &collector{}
	n.validate(c)
	c.diags.sort()
	if len(c.diags.Errors()) > 0 {
		return nil, &Error{Diagnostics: c.diags}
	}
	n.Warnings = c.diags
	return &n, nil
}

// clone copies what normalizeService changes in place, so that normalizing the copy leaves
// svc as it was.
func (svc *Service) clone() *Service {
	c := *svc
	c.Ports = slices.Clone(svc.Ports)
	c.Dependencies = slices.Clone(svc.Dependencies)
	if svc.Build != nil {
		b := *svc.Build
		c.Build = &b
	}
	if svc.HealthCheck != nil {
		h := *svc.HealthCheck
		if h.HTTP != nil {
			x := *h.HTTP
			h.HTTP = &x
		}
		c.HealthCheck = &h
	}
	return &c
}
