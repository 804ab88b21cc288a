package dev.tokenmill.quant;

import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.Kernels;
import dev.tokenmill.tensor.RowKernel;
import dev.tokenmill.tensor.quant.RowEncoder;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Reads the rows of a mapped tensor as floats: F32, F16 and BF16 directly, quantized types through the engine's kernels. */
final class TensorRows implements RowEncoder.RowSource {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final TensorInfo tensor;
    private final MemorySegment data;
    private final int rowLength;
    private final long rowBytes;
    private final RowKernel kernel;

    /** @throws QuantizeException when the tensor's type cannot be read as floats by this build */
    TensorRows(TensorInfo tensor, MemorySegment data) {
        this.tensor = tensor;
        this.data = data;
        this.rowLength = Math.toIntExact(tensor.cols());
        this.rowBytes = tensor.type().bytesFor(rowLength);
        this.kernel = switch (tensor.type()) {
            case F32, F16, BF16 -> null;
            default -> {
                try {
                    yield Kernels.scalar(tensor.type());
                } catch (UnsupportedOperationException e) {
                    throw new QuantizeException("tensor '" + tensor.name() + "' is " + tensor.type()
                            + ", which this build cannot dequantize; start from an F32, F16 or BF16 file", e);
                }
            }
        };
    }

    int rowLength() { return rowLength; }

    long rowCount() { return tensor.rows(); }

    @Override
    public void rows(long firstRow, int rowCount, float[] dst) {
        long off = firstRow * rowBytes;
        int n = rowCount * rowLength;
        GgmlType t = tensor.type();
        switch (t) {
            case F32 -> MemorySegment.copy(data, F32, off, dst, 0, n);
            case F16 -> { for (int i = 0; i < n; i++) dst[i] = Fp16.toFloat(data.get(I16, off + 2L * i)); }
            case BF16 -> { for (int i = 0; i < n; i++) dst[i] = Fp16.bf16ToFloat(data.get(I16, off + 2L * i)); }
            default -> {
                for (int r = 0; r < rowCount; r++) kernel.dequantize(data, off + r * rowBytes, dst, r * rowLength, rowLength);
            }
        }
    }
}
