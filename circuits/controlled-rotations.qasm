// Controlled rotations: every crx/cry/crz angle has generator frequencies {1/2, 1},
// so the two-term shift rule does not apply; qshift uses the four-term general rule.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] a;
input float[64] b;
input float[64] c;
qubit[3] q;
h q[0];
ry(0.3) q[1];
rx(1.1) q[2];
crx(a) q[0], q[1];
cry(b) q[1], q[2];
crz(c) q[2], q[0];
crx(0.5*a - 0.2) q[2], q[1];
h q[1];
#pragma braket result expectation z(q[0])
#pragma braket result expectation x(q[1]) @ z(q[2])
#pragma braket result expectation y(q[0]) @ y(q[2])
