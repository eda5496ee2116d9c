// Data re-uploading classifier (Perez-Salinas et al.): two features x0, x1 are
// encoded three times, each time followed by trainable rotations and an entangler.
// Output <Z0> is the class score.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] x0;
input float[64] x1;
input float[64] w0;
input float[64] w1;
input float[64] w2;
input float[64] w3;
input float[64] w4;
input float[64] w5;
input float[64] w6;
input float[64] w7;
input float[64] w8;
input float[64] w9;
input float[64] w10;
input float[64] w11;
qubit[2] q;
ry(x0) q[0];
ry(x1) q[1];
rz(w0) q[0];
ry(w1) q[0];
rz(w2) q[1];
ry(w3) q[1];
cz q[0], q[1];
ry(x0) q[0];
ry(x1) q[1];
rz(w4) q[0];
ry(w5) q[0];
rz(w6) q[1];
ry(w7) q[1];
cz q[0], q[1];
ry(x0) q[0];
ry(x1) q[1];
rz(w8) q[0];
ry(w9) q[0];
rz(w10) q[1];
ry(w11) q[1];
cz q[0], q[1];
#pragma braket result expectation z(q[0])
