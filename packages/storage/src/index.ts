import { placeholder } from '@streambus/record';
export const storagePlaceholder = placeholder + 1;
