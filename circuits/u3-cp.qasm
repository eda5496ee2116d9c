// Multi-angle gates: u3, u2, cu and the controlled phase cp. qshift expands each
// multi-angle gate into shiftable one-angle gates (rz, ry, p, crz, cry), so every
// symbol still gets an exact shift rule.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input float[64] phi;
input float[64] lam;
qubit[2] q;
u3(theta, phi, lam) q[0];
u2(0.4, phi) q[1];
cp(2*lam + 0.1) q[0], q[1];
cu(theta, pi/3, 0.7, phi) q[1], q[0];
sx q[0];
t q[1];
#pragma braket result expectation x(q[0])
#pragma braket result expectation z(q[0]) @ y(q[1])
