/** quant-tools: convert Hugging Face checkpoints, quantize, inspect, synthesize and evaluate GGUF models. */
package dev.tokenmill.quant;
