// Hardware-efficient ansatz, 4 qubits, 2 layers: RY(y) RZ(z) on every qubit, then a CNOT ring.
// 16 symbols; outputs <Z_q> for every qubit.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] y0_0;
input float[64] z0_0;
input float[64] y0_1;
input float[64] z0_1;
input float[64] y0_2;
input float[64] z0_2;
input float[64] y0_3;
input float[64] z0_3;
input float[64] y1_0;
input float[64] z1_0;
input float[64] y1_1;
input float[64] z1_1;
input float[64] y1_2;
input float[64] z1_2;
input float[64] y1_3;
input float[64] z1_3;
qubit[4] q;
ry(y0_0) q[0];
rz(z0_0) q[0];
ry(y0_1) q[1];
rz(z0_1) q[1];
ry(y0_2) q[2];
rz(z0_2) q[2];
ry(y0_3) q[3];
rz(z0_3) q[3];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[0];
ry(y1_0) q[0];
rz(z1_0) q[0];
ry(y1_1) q[1];
rz(z1_1) q[1];
ry(y1_2) q[2];
rz(z1_2) q[2];
ry(y1_3) q[3];
rz(z1_3) q[3];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[0];
#pragma braket result expectation z(q[0])
#pragma braket result expectation z(q[1])
#pragma braket result expectation z(q[2])
#pragma braket result expectation z(q[3])
