// QAOA for MaxCut on a 6-node graph (a ring of 6 plus chords 0-3 and 1-4), p = 2.
// gamma_k feeds every ZZ of cost layer k and beta_k every RX of mixer layer k (tied symbols).
// Outputs: <Z_i Z_j> for each of the 8 edges; the cut size is sum (1 - <Z_i Z_j>) / 2.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] gamma1;
input float[64] beta1;
input float[64] gamma2;
input float[64] beta2;
qubit[6] q;
h q[0];
h q[1];
h q[2];
h q[3];
h q[4];
h q[5];
rzz(2*gamma1) q[0], q[1];
rzz(2*gamma1) q[1], q[2];
rzz(2*gamma1) q[2], q[3];
rzz(2*gamma1) q[3], q[4];
rzz(2*gamma1) q[4], q[5];
rzz(2*gamma1) q[5], q[0];
rzz(2*gamma1) q[0], q[3];
rzz(2*gamma1) q[1], q[4];
rx(2*beta1) q[0];
rx(2*beta1) q[1];
rx(2*beta1) q[2];
rx(2*beta1) q[3];
rx(2*beta1) q[4];
rx(2*beta1) q[5];
rzz(2*gamma2) q[0], q[1];
rzz(2*gamma2) q[1], q[2];
rzz(2*gamma2) q[2], q[3];
rzz(2*gamma2) q[3], q[4];
rzz(2*gamma2) q[4], q[5];
rzz(2*gamma2) q[5], q[0];
rzz(2*gamma2) q[0], q[3];
rzz(2*gamma2) q[1], q[4];
rx(2*beta2) q[0];
rx(2*beta2) q[1];
rx(2*beta2) q[2];
rx(2*beta2) q[3];
rx(2*beta2) q[4];
rx(2*beta2) q[5];
#pragma braket result expectation z(q[0]) @ z(q[1])
#pragma braket result expectation z(q[1]) @ z(q[2])
#pragma braket result expectation z(q[2]) @ z(q[3])
#pragma braket result expectation z(q[3]) @ z(q[4])
#pragma braket result expectation z(q[4]) @ z(q[5])
#pragma braket result expectation z(q[5]) @ z(q[0])
#pragma braket result expectation z(q[0]) @ z(q[3])
#pragma braket result expectation z(q[1]) @ z(q[4])
