// Hardware-efficient ansatz, 8 qubits, 2 layers: RY(y) RZ(z) on every qubit, then a CNOT ring.
// 32 symbols; outputs <Z_q> for every qubit.
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
input float[64] y0_4;
input float[64] z0_4;
input float[64] y0_5;
input float[64] z0_5;
input float[64] y0_6;
input float[64] z0_6;
input float[64] y0_7;
input float[64] z0_7;
input float[64] y1_0;
input float[64] z1_0;
input float[64] y1_1;
input float[64] z1_1;
input float[64] y1_2;
input float[64] z1_2;
input float[64] y1_3;
input float[64] z1_3;
input float[64] y1_4;
input float[64] z1_4;
input float[64] y1_5;
input float[64] z1_5;
input float[64] y1_6;
input float[64] z1_6;
input float[64] y1_7;
input float[64] z1_7;
qubit[8] q;
ry(y0_0) q[0];
rz(z0_0) q[0];
ry(y0_1) q[1];
rz(z0_1) q[1];
ry(y0_2) q[2];
rz(z0_2) q[2];
ry(y0_3) q[3];
rz(z0_3) q[3];
ry(y0_4) q[4];
rz(z0_4) q[4];
ry(y0_5) q[5];
rz(z0_5) q[5];
ry(y0_6) q[6];
rz(z0_6) q[6];
ry(y0_7) q[7];
rz(z0_7) q[7];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
cx q[4], q[5];
cx q[5], q[6];
cx q[6], q[7];
cx q[7], q[0];
ry(y1_0) q[0];
rz(z1_0) q[0];
ry(y1_1) q[1];
rz(z1_1) q[1];
ry(y1_2) q[2];
rz(z1_2) q[2];
ry(y1_3) q[3];
rz(z1_3) q[3];
ry(y1_4) q[4];
rz(z1_4) q[4];
ry(y1_5) q[5];
rz(z1_5) q[5];
ry(y1_6) q[6];
rz(z1_6) q[6];
ry(y1_7) q[7];
rz(z1_7) q[7];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
cx q[4], q[5];
cx q[5], q[6];
cx q[6], q[7];
cx q[7], q[0];
#pragma braket result expectation z(q[0])
#pragma braket result expectation z(q[1])
#pragma braket result expectation z(q[2])
#pragma braket result expectation z(q[3])
#pragma braket result expectation z(q[4])
#pragma braket result expectation z(q[5])
#pragma braket result expectation z(q[6])
#pragma braket result expectation z(q[7])
