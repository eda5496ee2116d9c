// Two-qubit transverse-field Ising evolution, two Trotter steps: ZZ coupling J*dt
// (symbol `coupling`) and transverse field h*dt (symbol `field`), both tied across steps.
// Outputs: <Z0 Z1>, <X0>, <X1>.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] coupling;
input float[64] field;
qubit[2] q;
ry(pi/4) q[0];
rzz(2*coupling) q[0], q[1];
rx(2*field) q[0];
rx(2*field) q[1];
rzz(2*coupling) q[0], q[1];
rx(2*field) q[0];
rx(2*field) q[1];
#pragma braket result expectation z(q[0]) @ z(q[1])
#pragma braket result expectation x(q[0])
#pragma braket result expectation x(q[1])
