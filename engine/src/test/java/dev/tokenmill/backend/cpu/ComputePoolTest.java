package dev.tokenmill.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ComputePoolTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyDispatches() {
        try (ComputePool pool = new ComputePool(3)) {
            for (int n : new int[] {1, 2, 3, 7, 100, 1001}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                for (int round = 0; round < 50; round++) {
                    pool.parallelFor(n, (from, to, worker) -> {
                        for (int i = from; i < to; i++) hits.incrementAndGet(i);
                    });
                }
                for (int i = 0; i < n; i++) assertThat(hits.get(i)).as("index %d of %d", i, n).isEqualTo(50);
            }
        }
    }

    @Test
    void workerFailureReachesTheCaller() {
        try (ComputePool pool = new ComputePool(2)) {
            assertThatThrownBy(() -> pool.parallelFor(10, (from, to, worker) -> {
                if (worker == 1) throw new IllegalStateException("boom in worker");
            })).hasMessage("boom in worker");
            // the pool still works afterwards
            int[] sum = new int[2];
            pool.parallelFor(10, (from, to, worker) -> sum[worker] += to - from);
            assertThat(sum[0] + sum[1]).isEqualTo(10);
        }
    }
}
