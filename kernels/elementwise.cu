/* SPDX-License-Identifier: MIT */
/*
 * Elementwise kernels on CUDA: fill, copy, add, mul, scale, saxpy,
 * bias_add, relu, gelu, silu, activate. Twins: kernels/elementwise.c.
 *
 * Invariant: element i is computed only by the thread GL_GRID_STRIDE
 * gives it, from element i of the inputs, so in-place launches are safe.
 */
#include "kernels/cuda.cuh"

GL_GLOBAL void fill(unsigned int n, float value, float *y)
{
	GL_GRID_STRIDE(i, n)
		y[i] = value;
}

GL_GLOBAL void copy(unsigned int n, const float *x, float *y)
{
	GL_GRID_STRIDE(i, n)
		y[i] = x[i];
}

GL_GLOBAL void add(unsigned int n, const float *a, const float *b, float *y)
{
	GL_GRID_STRIDE(i, n)
		y[i] = a[i] + b[i];
}

GL_GLOBAL void mul(unsigned int n, const float *a, const float *b, float *y)
{
	GL_GRID_STRIDE(i, n)
		y[i] = a[i] * b[i];
}

GL_GLOBAL void scale(unsigned int n, float a, const float *x, float *y)
{
	GL_GRID_STRIDE(i, n)
		y[i] = a * x[i];
}

GL_GLOBAL void saxpy(unsigned int n, float a, const float *x, float *y)
{
	GL_GRID_STRIDE(i, n)
		y[i] = a * x[i] + y[i];
}

GL_GLOBAL void bias_add(unsigned int rows, unsigned int cols,
			const float *bias, float *x)
{
	GL_GRID_STRIDE(i, (unsigned long long)rows * cols)
		x[i] += bias[i % cols];
}

GL_GLOBAL void relu(unsigned int n, const float *x, float *y)
{
	GL_GRID_STRIDE(i, n) {
		float v = x[i];

		y[i] = v > 0.0f ? v : 0.0f;
	}
}

/* tanh form, as kernels/elementwise.c. */
GL_GLOBAL void gelu(unsigned int n, const float *x, float *y)
{
	GL_GRID_STRIDE(i, n) {
		float v = x[i];
		float u = 0.7978845608f * (v + 0.044715f * v * v * v);

		y[i] = 0.5f * v * (1.0f + tanhf(u));
	}
}

GL_GLOBAL void silu(unsigned int n, const float *x, float *y)
{
	GL_GRID_STRIDE(i, n) {
		float v = x[i];

		y[i] = v / (1.0f + expf(-v));
	}
}

/* act: GL_ACT_*, checked by the twin's gl_activate_check(). */
GL_GLOBAL void activate(unsigned int n, unsigned int act, const float *x,
			float *y)
{
	GL_GRID_STRIDE(i, n) {
		float v = x[i];

		if (act == GL_ACT_RELU)
			v = v > 0.0f ? v : 0.0f;
		else if (act == GL_ACT_GELU_ERF)
			v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
		else if (act == GL_ACT_TANH)
			v = tanhf(v);
		else if (act == GL_ACT_SIGMOID)
			v = 1.0f / (1.0f + expf(-v));
		y[i] = v;
	}
}
