// Braket's spellings: xx and yy (two-qubit XX and YY rotations), plus a swap and a
// Toffoli on a third qubit, with a mixed Pauli product as output.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] alpha;
input float[64] beta;
qubit[3] q;
h q[0];
cx q[0], q[1];
xx(alpha) q[0], q[1];
yy(beta - 0.25) q[1], q[2];
swap q[0], q[2];
ccx q[0], q[1], q[2];
ry(alpha) q[2];
#pragma braket result expectation x(q[0]) @ y(q[1]) @ z(q[2])
#pragma braket result expectation z(q[2])
